"""A logged-in person's ``ws/chain/`` stream hears ``wallet`` when a transaction of theirs is
dropped: no block names it, so without this their pages would show it pending for ever
(issue 18 fault 4). Another person's stream hears nothing of it."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from chain import selectors
from chain.ledger.tx import sign_transaction
from chain.services.mempool import held_expire, held_insert
from chain.services.wallets import wallet_key_open
from gridtokenx_site.asgi import application

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

ORIGIN = (b"origin", b"http://127.0.0.1")


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


async def stream_of(user) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(user)
    stream = WebsocketCommunicator(application, "/ws/chain/", headers=[ORIGIN, cookie])
    accepted, _ = await stream.connect(timeout=5)
    assert accepted
    return stream


def drop_one_held_transaction(wallet, to: str) -> None:
    """A transfer held a nonce ahead, then expired: dropped with a nonce_gap receipt."""
    head = selectors.chain_head()
    ahead = sign_transaction(
        wallet_key_open(wallet),
        chain_id=head.chain_id,
        nonce=9,
        kind="transfer",
        payload={"to": to, "amount": 1},
    )
    held_insert([ahead])
    assert held_expire(head.chain_id) == [ahead]


async def test_the_sender_hears_of_a_drop_and_no_one_else_does(users, settings):
    settings.GTX_HOLD_SECONDS = -1
    malee, somchai = users["home_malee"], users["solar_somchai"]
    sender, other = await stream_of(malee), await stream_of(somchai)
    try:
        await sync_to_async(drop_one_held_transaction)(malee.wallet, somchai.wallet.address)
        assert await sender.receive_json_from(timeout=10) == {
            "type": "wallet",
            "address": malee.wallet.address,
            "height": None,
        }
        assert await other.receive_nothing(timeout=1)
    finally:
        await sender.disconnect()
        await other.disconnect()
