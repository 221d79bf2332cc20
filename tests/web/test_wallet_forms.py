"""Send and stake forms: exact parsing, errors in words next to the field, nothing changed on bad input."""

import pytest
from django.utils.html import escape

from chain import forms
from chain.models import Account, MempoolTx
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        list(Account.objects.order_by("address").values_list()),
        list(MempoolTx.objects.order_by("id").values_list("hash", flat=True)),
    )


@pytest.fixture
def malee(client_as):
    return client_as("consumer")


@pytest.fixture
def somchai_address(users):
    return users["solar_somchai"].wallet.address


def send(client, recipient, amount, memo="", htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    data = {"transfer-recipient": recipient, "transfer-amount": amount, "transfer-memo": memo}
    return client.post("/wallet/transfer/submit/", data, **headers)


@pytest.mark.parametrize(
    ("recipient", "amount", "message"),
    [
        ("not-an-address", "1", forms.ADDRESS_MALFORMED),
        ("ab" * 31, "1", forms.ADDRESS_MALFORMED),
        ("cd" * 32, "1", forms.ADDRESS_UNKNOWN),
        (None, "0", forms.AMOUNT_NOT_POSITIVE),
        (None, "-3", forms.AMOUNT_NOT_POSITIVE),
        (None, "abc", forms.AMOUNT_NOT_A_NUMBER),
        (None, "1e3", forms.AMOUNT_NOT_A_NUMBER),
        (None, "NaN", forms.AMOUNT_NOT_A_NUMBER),
        (None, "0.0000001", forms.AMOUNT_TOO_PRECISE),
        (None, "99999999999999999999", forms.AMOUNT_TOO_LARGE),
        (None, "5000.000001", forms.AMOUNT_OVER_AVAILABLE.format(available="5,000.00")),
    ],
)
def test_it_says_what_is_wrong_and_changes_nothing(malee, somchai_address, recipient, amount, message):
    before = snapshot()
    response = send(malee, recipient or somchai_address, amount)
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert snapshot() == before


def test_it_refuses_sending_to_yourself(malee, users):
    before = snapshot()
    response = send(malee, users["home_malee"].wallet.address, "1")
    assert forms.ADDRESS_SELF in response.content.decode()
    assert snapshot() == before


def test_a_valid_transfer_is_signed_and_pending(malee, users, somchai_address):
    response = send(malee, somchai_address.upper(), "12.345678", memo="for the panels")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "wallet-changed"
    assert "Signed and sent" in response.content.decode()
    pending = MempoolTx.objects.get()
    assert pending.sender == users["home_malee"].wallet.address
    assert pending.payload == {"to": somchai_address, "amount": 12_345_678, "memo": "for the panels"}


def test_without_htmx_it_redirects_to_the_wallet(malee, somchai_address):
    response = send(malee, somchai_address, "1", htmx=False)
    assert response.status_code == 302
    assert response["Location"] == "/wallet/"
    assert MempoolTx.objects.count() == 1


def test_without_htmx_errors_render_the_whole_page(malee, somchai_address):
    before = snapshot()
    response = send(malee, somchai_address, "0", htmx=False)
    assert response.status_code == 200
    assert forms.AMOUNT_NOT_POSITIVE in response.content.decode()
    assert b"Your wallet" in response.content
    assert snapshot() == before


def test_pending_debits_count_against_what_is_available(malee, users, somchai_address):
    transaction_sign_submit(
        key=wallet_key_open(users["home_malee"].wallet),
        kind="transfer",
        payload={"to": somchai_address, "amount": 4_000_000_000},
    )
    before = snapshot()
    response = send(malee, somchai_address, "1000.5")
    assert forms.AMOUNT_OVER_AVAILABLE.format(available="1,000.00") in response.content.decode()
    assert snapshot() == before


def test_pending_transfer_shows_on_the_wallet_page(malee, somchai_address):
    send(malee, somchai_address, "2.5")
    body = malee.get("/wallet/?part=activity").content.decode()
    assert "status-pending" in body
    assert "2.50" in body


def test_admission_refusals_are_shown_in_words(malee, users, somchai_address, monkeypatch):
    """A refusal that only admission sees (here a nonce taken by a racing tab) reaches the person."""
    from chain.services import admission

    def refuse(wires):
        raise admission.BatchRejected(
            [{"index": 0, "code": "duplicate", "message": "Already submitted, or its nonce was just taken."}]
        )

    monkeypatch.setattr(admission, "transactions_submit", refuse)
    monkeypatch.setattr("chain.services.signing.transactions_submit", refuse)
    before = snapshot()
    response = send(malee, somchai_address, "1")
    assert "its nonce was just taken" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "1.1234567", forms.AMOUNT_TOO_PRECISE),
        ("amount", "-1", forms.AMOUNT_NOT_POSITIVE),
        ("recipient", "zz", forms.ADDRESS_MALFORMED),
    ],
)
def test_inline_check_returns_the_error_for_one_field(malee, field, value, message):
    before = snapshot()
    response = malee.post(
        f"/wallet/transfer/check/?field={field}", {f"transfer-{field}": value}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith(f'<small class="field-error" id="err-transfer-{field}"')
    assert escape(message) in body
    assert 'data-valid="false"' in body
    assert snapshot() == before


def test_inline_check_is_quiet_for_good_and_empty_fields(malee, somchai_address):
    good = malee.post("/wallet/transfer/check/?field=recipient", {"transfer-recipient": somchai_address})
    assert 'data-valid="true"' in good.content.decode()
    empty = malee.post("/wallet/transfer/check/?field=amount", {"transfer-amount": ""})
    assert 'data-valid=""' in empty.content.decode()
    assert "></small>" in empty.content.decode()


def test_inline_check_of_unknown_field_or_kind_is_404(malee):
    assert malee.post("/wallet/transfer/check/?field=nonce", {}).status_code == 404
    assert malee.post("/wallet/mint/check/?field=amount", {}).status_code == 404
    assert malee.post("/wallet/mint/submit/", {}).status_code == 404


def test_bond_then_unbond(malee, users, produce):
    address = users["home_malee"].wallet.address
    response = malee.post("/wallet/stake_bond/submit/", {"stake_bond-amount": "100"}, HTTP_HX_REQUEST="true")
    assert "Signed and sent" in response.content.decode()
    produce()
    assert Account.objects.get(address=address).staked == 100_000_000
    too_much = malee.post(
        "/wallet/stake_unbond/submit/", {"stake_unbond-amount": "100.5"}, HTTP_HX_REQUEST="true"
    )
    assert forms.AMOUNT_OVER_STAKED.format(unbondable="100.00") in too_much.content.decode()
    assert MempoolTx.objects.count() == 0
    malee.post("/wallet/stake_unbond/submit/", {"stake_unbond-amount": "40"}, HTTP_HX_REQUEST="true")
    produce()
    account = Account.objects.get(address=address)
    assert (account.staked, account.unbonding) == (60_000_000, 40_000_000)


def test_bond_cannot_exceed_available(malee):
    before = snapshot()
    response = malee.post("/wallet/stake_bond/submit/", {"stake_bond-amount": "5001"}, HTTP_HX_REQUEST="true")
    assert forms.AMOUNT_OVER_AVAILABLE.format(available="5,000.00") in response.content.decode()
    assert snapshot() == before


def test_balance_refresh_also_refreshes_the_form_limits(malee, somchai_address):
    send(malee, somchai_address, "1000")
    part = malee.get("/wallet/?part=balances").content.decode()
    assert (
        '<p class="muted form-hint" id="hint-transfer" hx-swap-oob="true">Up to 4,000.00 GTX available.</p>'
        in part
    )
    assert 'id="hint-stake_unbond" hx-swap-oob="true">Up to 0.00 GTX staked.' in part


def test_read_only_views_carry_no_form_limits(client_as):
    regulator = client_as("regulator")
    assert 'hx-trigger="chain-block from:body"' in regulator.get("/wallets/home_malee/").content.decode()
    part = regulator.get("/wallets/home_malee/?part=balances").content.decode()
    assert "5,000.00" in part and "hx-swap-oob" not in part
