import pytest

from chain.services.wallets import wallet_submit


@pytest.fixture
def committed_transfer(users, produce):
    """home_malee sent 1.5 tokens to solar_somchai, committed in block 1."""
    tx = wallet_submit(
        wallet=users["home_malee"].wallet,
        kind="transfer",
        payload={"to": users["solar_somchai"].wallet.address, "amount": 1_500_000, "memo": "tea money"},
    )
    block = produce()
    assert block is not None and block.height == 1
    return tx
