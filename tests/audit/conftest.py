import json

import pytest

from chain.ledger.genesis import load_genesis
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open

#: The permission matrix: who is behind each role (None: anonymous).


def _toml(raw: dict) -> str:
    """A genesis dict as TOML: scalars, inline arrays of scalars, tables, arrays of tables."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        return "[" + ", ".join(value(x) for x in v) + "]"

    def scalars(table: dict) -> list[str]:
        return [
            f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, dict | list) or _scalar_list(v)
        ]

    lines = scalars(raw)
    for key, v in raw.items():
        if isinstance(v, dict):
            lines += [f"[{key}]", *scalars(v)]
        elif isinstance(v, list) and not _scalar_list(v):
            for item in v:
                lines += [f"[[{key}]]", *scalars(item)]
    return "\n".join(lines) + "\n"


def _scalar_list(v) -> bool:
    return isinstance(v, list) and all(not isinstance(x, dict | list) for x in v)


@pytest.fixture(scope="session")
def genesis_copy(genesis, tmp_path_factory) -> str:
    """The tests' genesis in a file of this session's own: the shared one in the temp directory
    is rewritten by every test session that starts (the working tree is shared)."""
    path = tmp_path_factory.mktemp("audit-genesis") / "genesis.toml"
    path.write_text(_toml(genesis.raw))
    assert load_genesis(path).hash == genesis.hash
    return str(path)


@pytest.fixture(autouse=True)
def genesis_file(settings, genesis_copy):
    """The replay reads the genesis file the site was initialised from: the tests' one."""
    settings.GTX_GENESIS_PATH = genesis_copy


@pytest.fixture
def transfers(users, produce):
    """Three blocks: home_malee pays solar_somchai in each (a chain to verify and tamper with)."""
    blocks = []
    for amount in (1_000_000, 2_000_000, 3_000_000):
        transaction_sign_submit(
            key=wallet_key_open(users["home_malee"].wallet),
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
