"""Top-ups and cash-outs through the site: requests, the issuer's answers, blocks, refusals."""

import pytest

from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import Account, ChainHead, ChainTx, MempoolTx
from chain.node import node_key_write, node_signing_key
from chain.services.admission import transactions_submit
from chain.services.mempool import next_nonce
from treasury import services
from treasury.ledger import kinds as k
from treasury.models import CashOut, Payment, TopUpRequest, TopUpStatus

TOKEN = 1_000_000


def balance(address):
    account = Account.objects.filter(address=address).first()
    return (account.balance, account.escrow_tokens) if account else None


def test_a_newcomers_first_topup_is_confirmed_automatically_and_creates_the_account(newcomer, produce):
    wallet = newcomer.wallet
    supply = ChainHead.objects.get().total_supply
    topup = services.topup_request(user=newcomer, wallet=wallet, amount=500 * TOKEN)
    assert topup.status == TopUpStatus.CONFIRMED and topup.mint_tx_hash
    assert balance(wallet.address) is None
    produce()
    assert balance(wallet.address) == (500 * TOKEN, 0)
    assert ChainHead.objects.get().total_supply == supply + 500 * TOKEN
    payment = Payment.objects.get(reference=topup.reference)
    assert (payment.direction, payment.account, payment.amount) == ("mint", wallet.address, 500 * TOKEN)


def test_above_the_automatic_limit_a_topup_waits_for_the_issuers_staff(newcomer, users, produce, settings):
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 100
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=101 * TOKEN)
    assert topup.status == TopUpStatus.PENDING and not MempoolTx.objects.exists()
    services.topup_confirm(request_id=topup.pk, staff=users["admin"])
    with pytest.raises(Refused) as refused:
        services.topup_confirm(request_id=topup.pk, staff=users["admin"])
    assert refused.value.code == services.ALREADY_DECIDED
    assert MempoolTx.objects.filter(kind="token_mint").count() == 1
    produce()
    assert balance(newcomer.wallet.address) == (101 * TOKEN, 0)


def test_a_refused_topup_keeps_its_reason_and_mints_nothing(newcomer, users, no_auto_confirm):
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=10 * TOKEN)
    with pytest.raises(Refused):
        services.topup_refuse(request_id=topup.pk, staff=users["admin"], reason="   ")
    services.topup_refuse(request_id=topup.pk, staff=users["admin"], reason="No payment with this reference")
    topup.refresh_from_db()
    assert (topup.status, topup.reason) == (TopUpStatus.REFUSED, "No payment with this reference")
    with pytest.raises(Refused):
        services.topup_confirm(request_id=topup.pk, staff=users["admin"])
    assert not MempoolTx.objects.exists()


@pytest.mark.parametrize("amount", [0, -1, 1_000_000 * TOKEN + 1])
def test_it_refuses_a_topup_of_a_bad_amount(newcomer, amount):
    with pytest.raises(Refused) as refused:
        services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=amount)
    assert refused.value.field == "amount"
    assert not TopUpRequest.objects.exists() and not MempoolTx.objects.exists()


def test_a_site_that_is_not_an_issuer_cannot_confirm(newcomer, users, no_auto_confirm, settings, tmp_path):
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=10 * TOKEN)
    settings.GTX_NODE_KEY_FILE = str(tmp_path / "mea_key")
    node_key_write(demo_key("MEA"))
    node_signing_key.cache_clear()
    try:
        with pytest.raises(Refused) as refused:
            services.topup_confirm(request_id=topup.pk, staff=users["admin"])
        # It takes requests all the same, by asking the issuer on chain (tests/treasury/test_asked_topups.py).
        relayed = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=10 * TOKEN)
        assert relayed.status == TopUpStatus.RELAYED and relayed.request_tx_hash
    finally:
        node_signing_key.cache_clear()
    assert refused.value.code == services.NOT_ISSUER_SITE
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PENDING


def test_a_cashout_is_escrowed_then_burnt_or_released(newcomer, produce):
    wallet = newcomer.wallet
    services.topup_request(user=newcomer, wallet=wallet, amount=100 * TOKEN)
    produce()
    first = services.cashout_request(wallet=wallet, amount=30 * TOKEN)
    second = services.cashout_request(wallet=wallet, amount=20 * TOKEN)
    produce()
    assert balance(wallet.address) == (50 * TOKEN, 50 * TOKEN)
    supply = ChainHead.objects.get().total_supply
    burn = services.cashout_confirm(cashout_id=first.hash)
    with pytest.raises(Refused) as waiting:
        services.cashout_refuse(cashout_id=first.hash, reason="twice")
    assert waiting.value.code == services.BURN_WAITING
    services.cashout_refuse(cashout_id=second.hash, reason="Bank account closed")
    produce()
    assert balance(wallet.address) == (70 * TOKEN, 0)
    assert ChainHead.objects.get().total_supply == supply - 30 * TOKEN
    assert CashOut.objects.get(cashout_id=first.hash).reference == burn.payload["reference"]
    assert CashOut.objects.get(cashout_id=second.hash).reason == "Bank account closed"
    with pytest.raises(Refused) as closed:
        services.cashout_confirm(cashout_id=first.hash)
    assert closed.value.code == k.CASHOUT_CLOSED


def test_it_refuses_a_cashout_above_the_free_balance(newcomer, produce):
    wallet = newcomer.wallet
    services.topup_request(user=newcomer, wallet=wallet, amount=100 * TOKEN)
    produce()
    services.cashout_request(wallet=wallet, amount=60 * TOKEN)
    with pytest.raises(Refused) as refused:
        services.cashout_request(wallet=wallet, amount=41 * TOKEN)
    assert refused.value.code == "insufficient_funds"
    assert MempoolTx.objects.filter(kind="cashout_request").count() == 1


def test_a_forged_mint_is_admitted_by_nobody_and_changes_nothing(newcomer, produce):
    """A non-issuer may sign a token_mint; the block refuses it with not_issuer and mints nothing."""
    forger = demo_key("home_malee")
    supply = ChainHead.objects.get().total_supply
    payload = {"to": newcomer.wallet.address, "amount": 10 * TOKEN, "reference": "TU999999999999"}
    head = ChainHead.objects.get()
    tx = sign_transaction(
        forger,
        chain_id=head.chain_id,
        nonce=next_nonce(address_of(forger)),
        kind="token_mint",
        payload=payload,
    )
    transactions_submit([tx.to_wire()])
    produce()
    assert balance(newcomer.wallet.address) is None
    assert ChainHead.objects.get().total_supply == supply
    assert not Payment.objects.exists()
    assert ChainTx.objects.get(hash=tx.hash).error_code == k.NOT_ISSUER
