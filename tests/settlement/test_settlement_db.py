"""Settlement in the database: the block producer settles a slot against meter readings; the trade page.

Block times come from the clock, so the clock is moved past the slot (and its
grace period) by patching the producer's clock (``chain.clock.now_ms``): nothing else is faked.
"""

import pytest

from chain import clock
from chain.models import Account, Block, ChainHead
from meters.services import demo_meters_register, readings_submit
from settlement.models import Certificate, SettlementAccount
from settlement.selectors import certificate_registry
from tests.meters.conftest import signed_reading
from tests.trading.harness import TOKEN, buy, sell
from trading import selectors
from trading.models import Trade
from trading.services import order_place

pytestmark = pytest.mark.django_db

SLOT_MS = 15 * 60_000


@pytest.fixture
def slot(chain, produce):
    """The second open slot, with the demo meters registered."""
    assert demo_meters_register() == 6
    produce()
    return selectors.slots_open(count=2)[1]


def address(users, name) -> str:
    return users[name].wallet.address


def test_a_slot_settles_in_the_database_and_the_trade_page_shows_it(
    users, produce, slot, monkeypatch, client, login_as
):
    order_place(wallet=users["solar_somchai"].wallet, **sell(slot, kwh=10, price=3_500_000))
    produce()
    order_place(wallet=users["home_malee"].wallet, **buy(slot, kwh=4, price=4_000_000))
    produce()
    trade = Trade.objects.get()
    assert (trade.energy_wh, trade.paid_tokens, trade.unsettled_slot_ms) == (4_000, 14 * TOKEN, slot)
    page = client.get(f"/market/trades/{trade.trade_id}/").content.decode()
    assert 'data-settlement="awaiting delivery"' in page

    # The seller's rooftop meter exports 2.5 kWh in the slot: a partial delivery.
    monkeypatch.setattr(clock, "now_ms", lambda: slot + SLOT_MS + 1_000)
    chain_id = ChainHead.objects.get().chain_id
    reading = signed_reading(chain_id, "solar_somchai", start=slot, end=slot + SLOT_MS, export_wh=2_500)
    readings_submit(wires=[reading.to_wire()])
    produce()
    seller_before = Account.objects.get(address=address(users, "solar_somchai"))
    assert seller_before.escrow_tokens == 14 * TOKEN
    monkeypatch.setattr(clock, "now_ms", lambda: slot + SLOT_MS + 5 * 60_000 + 1_000)
    assert produce() is not None  # due settlement makes a block with nothing in the mempool

    trade.refresh_from_db()
    assert (trade.delivered_wh, trade.refund_tokens, trade.unsettled_slot_ms) == (2_500, 5_250_000, 0)
    seller = Account.objects.get(address=address(users, "solar_somchai"))
    buyer = Account.objects.get(address=address(users, "home_malee"))
    assert seller.balance - seller_before.balance == 8_750_000  # 2.5 kWh at 3.5
    assert (seller.escrow_tokens, buyer.escrow_wh, buyer.energy_wh) == (0, 0, 2_500)
    record = SettlementAccount.objects.get(address=address(users, "solar_somchai"))
    assert (record.sold_wh, record.delivered_wh, record.reputation_ppm) == (4_000, 2_500, 625_000)
    assert SettlementAccount.objects.get(address=address(users, "home_malee")).carbon_g == 2_500 * 470 // 1000
    assert ChainHead.objects.get().state_root == Block.objects.order_by("-height")[0].result_state_root
    # The delivered solar Wh are certified once, to the buyer, and the regulator's registry reconciles.
    certificate = Certificate.objects.get()
    assert (certificate.holder, certificate.producer, certificate.wh, certificate.status) == (
        address(users, "home_malee"),
        address(users, "solar_somchai"),
        2_500,
        "held",
    )
    assert certificate_registry() == {
        "issued_wh": 2_500,
        "held_wh": 2_500,
        "claimed_wh": 0,
        "transferred_wh": 0,
        "to_buyers_wh": 2_500,
        "to_producers_wh": 0,
        "delivered_renewable_wh": 2_500,
        "metered_renewable_wh": 2_500,
        "awaiting_settlement_wh": 0,
        "difference_wh": 0,
    }

    page = client.get(f"/market/trades/{trade.trade_id}/").content.decode()
    assert 'data-settlement="short"' in page and 'data-delivered-wh="2500"' in page
    assert "solar_somchai" not in page  # anonymous readers see addresses only
    assert (
        "solar_somchai" in login_as("erc_auditor").get(f"/market/trades/{trade.trade_id}/").content.decode()
    )
    fills = login_as("home_malee").get("/market/trade/?part=fills").content.decode()
    assert 'data-delivered="2500"' in fills


def test_an_unknown_trade_is_404(chain, client):
    assert client.get(f"/market/trades/{'ab' * 32}/").status_code == 404


def test_a_sale_with_nothing_delivered_is_shown_as_unpaid_and_the_buyer_as_refunded(
    users, produce, slot, monkeypatch, login_as
):
    order_place(wallet=users["solar_somchai"].wallet, **sell(slot, kwh=10, price=3_500_000))
    produce()
    order_place(wallet=users["home_malee"].wallet, **buy(slot, kwh=4, price=4_000_000))
    produce()
    seller, buyer = address(users, "solar_somchai"), address(users, "home_malee")
    held = selectors.account_market_totals(address=seller)
    assert (held["earned_tokens"], held["held_tokens"]) == (0, 14 * TOKEN)
    fills = login_as("solar_somchai").get("/market/trade/?part=fills").content.decode()
    assert "held until delivery" in fills and "amount-in" not in fills

    # The slot ends and its grace passes with no reading from the seller's meters.
    monkeypatch.setattr(clock, "now_ms", lambda: slot + SLOT_MS + 5 * 60_000 + 1_000)
    assert produce() is not None
    trade = Trade.objects.get()
    assert (trade.delivered_wh, trade.refund_tokens) == (0, 14 * TOKEN)

    sold = selectors.account_market_totals(address=seller)
    assert (sold["sold_wh"], sold["sold_delivered_wh"], sold["earned_tokens"], sold["held_tokens"]) == (
        4_000,
        0,
        0,
        0,
    )
    bought = selectors.account_market_totals(address=buyer)
    assert bought["spent_tokens"] == trade.wheeling_fee_tokens  # the price came back; a fee does not
    assert bought["refunded_tokens"] == 14 * TOKEN
    fills = login_as("solar_somchai").get("/market/trade/?part=fills").content.decode()
    assert "not delivered" in fills and "amount-in" not in fills and "held" not in fills
    assert "earned 0" in fills
    buyer_fills = login_as("home_malee").get("/market/trade/?part=fills").content.decode()
    assert "refunded" in buyer_fills
