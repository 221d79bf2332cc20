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
