"""What each feed event says to the person it concerns, and what it did to their tokens
(chain.templatetags.chain_activity.feed_line): the wallet's figures reconcile from these."""

import pytest

from chain.templatetags.chain_activity import FeedLine, feed_line

BUYER, SELLER, OPERATOR = "b" * 64, "5" * 64, "e" * 64
TOKEN = 1_000_000
TRADE = {
    "type": "trade",
    "trade_id": "t" * 64,
    "buyer": BUYER,
    "seller": SELLER,
    "energy_wh": 2_500,
    "price_per_kwh": 3_500_000,
    "paid_tokens": 8_750_000,
    "wheeling_fee_tokens": 250_000,
    "parties": sorted([BUYER, SELLER, OPERATOR]),
}
SETTLED = {
    "type": "trade_settled",
    "trade_id": "t" * 64,
    "buyer": BUYER,
    "seller": SELLER,
    "energy_wh": 2_500,
    "delivered_wh": 1_000,
    "paid_tokens": 3_500_000,
    "refund_tokens": 5_250_000,
    "parties": sorted([BUYER, SELLER]),
}


@pytest.mark.parametrize(
    ("event", "address", "text", "amount", "direction"),
    [
        (
            TRADE,
            BUYER,
            "Bought 2.500 kWh at 3.50 GTX/kWh: paid 8.75 GTX + 0.25 GTX wheeling fee",
            9 * TOKEN,
            "out",
        ),
        (
            TRADE,
            SELLER,
            "Sold 2.500 kWh at 3.50 GTX/kWh: 8.75 GTX held until delivery is settled",
            8_750_000,
            "held",
        ),
        (TRADE, OPERATOR, "Wheeling fee for 2.500 kWh carried", 250_000, "in"),
        # Short delivery: the seller is paid for what was delivered, the buyer refunded the rest.
        (SETTLED, SELLER, "Delivery settled, 1.000 of 2.500 kWh delivered: you were paid", 3_500_000, "in"),
        (SETTLED, BUYER, "Delivery settled, 1.000 of 2.500 kWh delivered: refunded", 5_250_000, "in"),
        (
            {
                "type": "token_minted",
                "account": BUYER,
                "amount": 500 * TOKEN,
                "reference": "TOPUP-1",
                "parties": [BUYER],
            },
            BUYER,
            "Top-up TOPUP-1 minted",
            500 * TOKEN,
            "in",
        ),
        (
            {"type": "cashout_requested", "account": BUYER, "amount": 20 * TOKEN, "parties": [BUYER]},
            BUYER,
            "Cash-out requested: tokens held until the issuer pays",
            20 * TOKEN,
            "held",
        ),
    ],
)
def test_each_event_says_what_it_did_to_the_persons_tokens(event, address, text, amount, direction):
    line = feed_line(event, address)
    assert (line.text, line.amount, line.direction) == (text, amount, direction)


def test_a_full_delivery_refunds_nothing_and_says_no_amount_to_the_buyer():
    full = {**SETTLED, "delivered_wh": 2_500, "paid_tokens": 8_750_000, "refund_tokens": 0}
    assert feed_line(full, BUYER).amount is None
    assert feed_line(full, SELLER) == FeedLine(
        "Delivery settled, 2.500 of 2.500 kWh delivered: you were paid",
        8_750_000,
        "in",
        f"/market/trades/{'t' * 64}/",
    )
