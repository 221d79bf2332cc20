import pytest

from chain.models import Account, MempoolTx
from trading.models import Order, Trade

ROLES = ("anonymous", "producer", "consumer", "other", "regulator", "staff")
#: "other" is a second producer: someone who is not the owner of the producer's orders.
USERNAMES = {
    "producer": "wind_korat",
    "consumer": "home_malee",
    "other": "solar_somchai",
    "regulator": "erc_auditor",
    "staff": "admin",
}


@pytest.fixture
def client_as(login_as):
    """A test client logged in as one of ROLES."""
    return lambda role: login_as(USERNAMES.get(role))


@pytest.fixture
def ledger_snapshot():
    """Everything an order could change: accounts, the mempool, orders and trades."""

    def take():
        return (
            list(
                Account.objects.order_by("address").values_list(
                    "address", "balance", "energy_wh", "escrow_tokens", "escrow_wh", "nonce"
                )
            ),
            list(MempoolTx.objects.order_by("hash").values_list("hash", flat=True)),
            list(Order.objects.order_by("order_id").values_list("order_id", "status", "remaining_wh")),
            list(Trade.objects.values_list("trade_id", flat=True)),
        )

    return take
