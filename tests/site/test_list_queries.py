"""List pages cost a fixed number of queries, however many rows they show (no N+1).

Each page is rendered once with a few rows and once with many more; the
number of SQL queries must be the same.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chain.models import ChainTx
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from tests.trading.harness import buy, sell
from trading import selectors
from trading.models import Trade
from trading.services import order_place

pytestmark = pytest.mark.django_db

FEW, MORE = 2, 8


def queries(client, path: str) -> int:
    """Queries of a render after a first one: what a process reads once (the genesis regions'
    names, say) is not counted, whichever test rendered first."""
    assert client.get(path).status_code == 200, path
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured)


def transfers(users, produce, count: int) -> None:
    """home_malee sends ``count`` transfers to solar_somchai in one block."""
    malee = users["home_malee"].wallet
    for _ in range(count):
        transaction_sign_submit(
            key=wallet_key_open(malee),
            kind="transfer",
            payload={"to": users["solar_somchai"].wallet.address, "amount": 1},
        )
    produce()


def trades(users, produce, slot: int, count: int) -> None:
    """``count`` crossing sell/buy pairs in ``slot``: as many orders, fills and trades."""
    for _ in range(count):
        order_place(wallet=users["solar_somchai"].wallet, **sell(slot, kwh=1))
        order_place(wallet=users["wind_korat"].wallet, **sell(slot, kwh=1, price=3_900_000, source="wind"))
        order_place(wallet=users["home_malee"].wallet, **buy(slot, kwh=1))
    produce()


@pytest.mark.parametrize(
    "path, username",
    [
        ("/", None),
        ("/explorer/", None),
        ("/explorer/block/{height}/", None),
        ("/explorer/account/{malee}/", "erc_auditor"),
        ("/wallet/", "home_malee"),
        ("/wallets/home_malee/", "admin"),
        ("/wallets/", "erc_auditor"),
    ],
)
def test_chain_pages_issue_the_same_queries_for_more_rows(login_as, users, produce, path, username):
    malee = users["home_malee"].wallet.address
    transfers(users, produce, FEW)
    client = login_as(username)
    few = queries(client, path.format(height=1, malee=malee))
    for _ in range(MORE):
        transfers(users, produce, MORE)
    assert ChainTx.objects.count() == FEW + MORE * MORE
    assert queries(client, path.format(height=MORE + 1, malee=malee)) == few


@pytest.mark.parametrize(
    "path, username",
    [
        ("/market/", None),
        ("/market/trade/?slot={slot}&zone=bangkok", "home_malee"),
        ("/market/trade/?slot={slot}&zone=bangkok", "erc_auditor"),
    ],
)
def test_market_pages_issue_the_same_queries_for_more_rows(login_as, users, produce, path, username):
    slot = selectors.slots_open(count=2)[1]
    trades(users, produce, slot, FEW)
    client = login_as(username)
    few = queries(client, path.format(slot=slot))
    trades(users, produce, slot, MORE)
    assert Trade.objects.filter(delivery_slot_ms=slot).count() == FEW + MORE
    assert queries(client, path.format(slot=slot)) == few
