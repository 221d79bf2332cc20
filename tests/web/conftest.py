import pytest

from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open


@pytest.fixture
def committed_transfer(users, produce):
    """home_malee sent 1.5 tokens to solar_somchai, committed in block 1."""
    tx = transaction_sign_submit(
        key=wallet_key_open(users["home_malee"].wallet),
        kind="transfer",
        payload={"to": users["solar_somchai"].wallet.address, "amount": 1_500_000, "memo": "tea money"},
    )
    block = produce()
    assert block is not None and block.height == 1
    return tx
