"""Issue 18 fault 4 and the activity feed: every transaction a person signs shows where it
stands (pending, included, failed or dropped with the reason, or refused at once), and the
ledger events they are party to make their feed, with what each paid or earned."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils.html import escape

from chain import selectors
from chain.events import wallet_group
from chain.ledger.tx import sign_transaction
from chain.models import DroppedTx, LedgerEvent, MempoolTx, Wallet
from chain.services.mempool import held_expire, held_insert
from chain.services.wallets import wallet_key_open
from tests.trading.harness import buy, sell
from trading import selectors as market
from trading.services import order_cancel, order_place

pytestmark = pytest.mark.django_db

TOKEN = 1_000_000
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def malee(client_as):
    return client_as("consumer")


def send(client, recipient, amount):
    data = {"transfer-recipient": recipient, "transfer-amount": amount, "transfer-memo": ""}
    return client.post("/wallet/transfer/submit/", data, **HTMX)


def rows(client, part="transactions") -> str:
    return client.get(f"/activity/?part={part}").content.decode()


def state_of(client, tx_hash: str) -> str | None:
    page = rows(client)
    marker = f'data-tx="{tx_hash}" data-tx-state="'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_it_requires_a_login(client):
    response = client.get("/activity/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_signed_transfer_is_pending_then_included_with_its_block(malee, users, produce):
    response = send(malee, users["solar_somchai"].wallet.address, "2.5")
    assert response.status_code == 200
    [waiting] = MempoolTx.objects.all()

    assert state_of(malee, waiting.hash) == "pending"
    tray = malee.get("/activity/?part=tray").content.decode()
    assert 'data-waiting="1"' in tray and f'data-tx="{waiting.hash}" data-tx-state="pending"' in tray
    assert "Transfer signed and sent: pending, waiting for a block" in tray

    block = produce()
    assert state_of(malee, waiting.hash) == "included"
    part = rows(malee)
    assert f'href="/explorer/block/{block.height}/"' in part and f"block #{block.height}" in part
    tray = malee.get("/activity/?part=tray").content.decode()
    assert "data-waiting" not in tray and f"Transfer included in block #{block.height}" in tray
    # The same partial on the wallet page.
    assert f'data-tx="{waiting.hash}" data-tx-state="included"' in malee.get("/wallet/").content.decode()


def test_a_transaction_that_fails_in_its_block_shows_failed_with_the_reason(malee, users, produce):
    wallet = users["home_malee"].wallet
    slot = market.slots_open(count=2)[1]
    placed = order_place(wallet=wallet, **buy(slot))
    produce()
    # Two cancels signed while the order is open (two tabs): the block takes the first.
    first = order_cancel(wallet=wallet, order_id=placed.hash)
    second = order_cancel(wallet=wallet, order_id=placed.hash)
    block = produce()

    assert state_of(malee, first.hash) == "included"
    assert state_of(malee, second.hash) == "failed"
    part = rows(malee)
    assert escape("The order is already cancelled.") in part
    assert f"block #{block.height}" in part
    tray = malee.get("/activity/?part=tray").content.decode()
    assert f"Order cancel failed in block #{block.height}: The order is already cancelled." in tray


def test_a_dropped_transaction_shows_its_receipts_reason(malee, users, settings):
    """Held a nonce ahead and expired: no block will name it, so the drop itself is sent."""
    wallet = users["home_malee"].wallet
    head = selectors.chain_head()
    ahead = sign_transaction(
        wallet_key_open(wallet),
        chain_id=head.chain_id,
        nonce=5,
        kind="transfer",
        payload={"to": users["solar_somchai"].wallet.address, "amount": 1},
    )
    assert held_insert([ahead]) == {ahead.hash}
    assert state_of(malee, ahead.hash) == "held"

    settings.GTX_HOLD_SECONDS = -1
    with transaction.atomic():
        assert held_expire(head.chain_id) == [ahead]

    assert state_of(malee, ahead.hash) == "dropped"
    receipt = DroppedTx.objects.get(hash=ahead.hash)
    assert receipt.error_code == "nonce_gap"
    assert escape(receipt.error_message) in rows(malee)
    assert f"Transfer dropped: {receipt.error_message}" in malee.get("/activity/?part=tray").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_drop_reaches_the_senders_pages_after_commit(chain, users, settings):
    """The wallet group of the sender hears of it (chain.events.transactions_dropped), once committed."""
    wallet = Wallet.objects.get(user__username="home_malee")
    head = selectors.chain_head()
    ahead = sign_transaction(
        wallet_key_open(wallet),
        chain_id=head.chain_id,
        nonce=7,
        kind="transfer",
        payload={"to": Wallet.objects.get(user__username="solar_somchai").address, "amount": 1},
    )
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(wallet_group(wallet.address), channel)
    try:
        held_insert([ahead])
        settings.GTX_HOLD_SECONDS = -1
        with transaction.atomic():
            held_expire(head.chain_id)

        async def heard():
            import asyncio

            return await asyncio.wait_for(layer.receive(channel), timeout=10)

        message = async_to_sync(heard)()
        assert message == {"type": "wallet.dropped", "address": wallet.address}
    finally:
        async_to_sync(layer.group_discard)(wallet_group(wallet.address), channel)


def test_refused_at_intake_signs_nothing_and_says_why(malee, users):
    """Admission refuses (a cancel of an order that is not there): the answer says so, nothing waits."""
    response = malee.post("/market/orders/" + "ab" * 32 + "/cancel/", {}, **HTMX)
    assert response.status_code in (200, 404)
    assert not MempoolTx.objects.exists()
    assert selectors.own_transactions(address=users["home_malee"].wallet.address) == []
    assert "Nothing signed yet." in rows(malee)


def test_the_feed_lists_a_fill_with_what_each_side_paid_or_earned(client_as, users, produce):
    slot = market.slots_open(count=2)[1]
    order_place(wallet=users["solar_somchai"].wallet, **sell(slot))
    produce()
    order_place(wallet=users["home_malee"].wallet, **buy(slot))
    block = produce()

    buyer, seller, outsider = client_as("consumer"), client_as("producer"), client_as("other_consumer")
    bought = rows(buyer, "feed")
    assert "Bought 50.000 kWh at 3.50 GTX/kWh: paid 175.00 GTX" in bought
    assert 'amount-out">−175.00' in bought
    assert f'href="/explorer/block/{block.height}/"' in bought
    sold = rows(seller, "feed")
    assert "Sold 50.000 kWh at 3.50 GTX/kWh: 175.00 GTX held until delivery is settled" in sold
    assert 'amount-held">175.00' in sold
    assert "Bought" not in rows(outsider, "feed") and "Sold" not in rows(outsider, "feed")

    # The badge counts it until the person opens their feed.
    seller_wallet = Wallet.objects.get(user__username="solar_somchai")
    assert LedgerEvent.objects.filter(type="trade", parties__contains=[seller_wallet.address]).count() == 1
    assert 'data-unseen="1"' in seller.get("/activity/?part=tray").content.decode()
    page = seller.get("/activity/")
    assert page.status_code == 200 and "Sold 50.000 kWh" in page.content.decode()
    assert "data-unseen" not in seller.get("/activity/?part=tray").content.decode()


def test_an_order_cancel_and_expiry_are_in_the_feed(malee, users, produce):
    wallet = users["home_malee"].wallet
    slot = market.slots_open(count=2)[1]
    placed = order_place(wallet=wallet, **buy(slot, kwh=3))
    produce()
    order_cancel(wallet=wallet, order_id=placed.hash)
    produce()
    assert "Buy order cancelled: 3.000 of 3.000 kWh unfilled at 4.00 GTX/kWh" in rows(malee, "feed")


def test_the_tray_is_for_people_with_a_wallet(client_as):
    assert 'id="activity-tray"' in client_as("consumer").get("/").content.decode()
    assert 'id="activity-tray"' not in client_as("anonymous").get("/").content.decode()


def test_the_tray_of_the_activity_page_itself_counts_nothing_new(client_as, users, produce):
    slot = market.slots_open(count=2)[1]
    order_place(wallet=users["solar_somchai"].wallet, **sell(slot))
    produce()
    seller = client_as("producer")
    seller.get("/activity/")
    order_place(wallet=users["home_malee"].wallet, **buy(slot))
    produce()  # a fill while the seller's activity page is open

    elsewhere = {**HTMX, "HTTP_HX_CURRENT_URL": "http://testserver/wallet/"}
    assert 'data-unseen="1"' in seller.get("/activity/?part=tray", **elsewhere).content.decode()
    on_the_page = {**HTMX, "HTTP_HX_CURRENT_URL": "http://testserver/activity/"}
    assert "data-unseen" not in seller.get("/activity/?part=tray", **on_the_page).content.decode()
