import pytest

from chain.services.wallets import wallet_submit

#: The permission matrix: who is behind each role (None: anonymous).
PERSONAS = {
    "anonymous": None,
    "consumer": "home_malee",
    "other_consumer": "factory_rayong",
    "producer": "solar_somchai",
    "regulator": "erc_auditor",
    "staff": "admin",
}
READERS = ("regulator", "staff")


@pytest.fixture(autouse=True)
def genesis_file(settings):
    """The replay reads the genesis file the site was initialised from: the tests' one."""
    from tests.conftest import GENESIS_PATH

    settings.GTX_GENESIS_PATH = str(GENESIS_PATH)


@pytest.fixture
def client_as(login_as):
    return lambda persona: login_as(PERSONAS[persona])


@pytest.fixture
def transfers(users, produce):
    """Three blocks: home_malee pays solar_somchai in each (a chain to verify and tamper with)."""
    blocks = []
    for amount in (1_000_000, 2_000_000, 3_000_000):
        wallet_submit(
            wallet=users["home_malee"].wallet,
            kind="transfer",
            payload={"to": users["solar_somchai"].wallet.address, "amount": amount},
        )
        blocks.append(produce())
    return blocks


@pytest.fixture
def slot(chain):
    from trading import selectors as market

    return market.slots_open(count=2)[1]


@pytest.fixture
def make_trade(users, produce, slot):
    """make_trade(seller, buyer, kwh, price, zone=...) -> the Trade: a sell, a block, a matching buy,
    a block; the book is empty again afterwards."""
    from tests.trading.harness import buy, sell
    from trading.models import Trade
    from trading.services import order_place

    def make(seller, buyer, kwh=1, price=3_500_000, zone="bangkok", source="solar"):
        order_place(wallet=users[seller].wallet, **sell(slot, kwh=kwh, price=price, zone=zone, source=source))
        produce()
        order_place(wallet=users[buyer].wallet, **buy(slot, kwh=kwh, price=price, zone=zone))
        produce()
        return Trade.objects.order_by("-height", "-seq").first()

    return make
