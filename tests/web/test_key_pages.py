"""Wallet keys across sites in the browser: export a backup, import it, sign up with one's own key.

Every refusal answers with the form and its reason and changes nothing: the wallet rows
before and after are compared, and the audit trail (WalletKeyEvent) says what was tried.
"""

import json

import pytest
from nacl.signing import SigningKey

from chain.ledger.keys import address_of, new_signing_key, sign
from chain.management.commands.init import DEMO_PASSWORD
from chain.models import Custody, Wallet, WalletKeyEvent
from chain.services import key_backup as kb
from chain.services.accounts import self_custody_link_message
from chain.services.wallets import wallet_key_open
from chain.views.keys import LINK_CHALLENGE_SESSION_KEY
from tests.web.test_accounts import a_client

pytestmark = pytest.mark.django_db

PASSPHRASE = "a long passphrase for the file"
NEWCOMER = {
    "username": "newcomer",
    "password1": "sun-on-the-roof-42",
    "password2": "sun-on-the-roof-42",
    "role": "consumer",
    "region": "north",
}


def wallets_snapshot():
    return list(Wallet.objects.order_by("pk").values_list("user_id", "address", "custody", "sealed_key"))


def export(client, password=DEMO_PASSWORD, passphrase=PASSPHRASE, again=None):
    return client.post(
        "/wallet/key/export/",
        {"password": password, "passphrase": passphrase, "passphrase_again": again or passphrase},
    )


def upload(client, raw: bytes, *, passphrase=PASSPHRASE, password=NEWCOMER["password1"]):
    from django.core.files.uploadedfile import SimpleUploadedFile

    backup = SimpleUploadedFile("backup.json", raw, content_type="application/json")
    return client.post(
        "/wallet/key/import/", {"backup": backup, "passphrase": passphrase, "password": password}
    )


@pytest.fixture
def newcomer(chain):
    """A person who just signed up here: a wallet with no account on the ledger yet."""
    client = a_client()
    assert client.post("/accounts/signup/", NEWCOMER).status_code == 302
    return client


@pytest.fixture
def fresh_backup():
    """A backup exported at another site: its key is no wallet of this one."""
    key = new_signing_key()
    return key, kb.backup_encode(seed=key.encode(), address=address_of(key), passphrase=PASSPHRASE)


# --- export ------------------------------------------------------------------------------


def test_it_exports_a_backup_that_opens_to_the_wallet_key(login_as, users):
    wallet = users["home_malee"].wallet
    response = export(login_as("home_malee"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    parsed = kb.backup_parse(response.content)
    assert parsed["address"] == wallet.address
    assert kb.backup_open(parsed, passphrase=PASSPHRASE) == wallet_key_open(wallet).encode()
    event = WalletKeyEvent.objects.get()
    assert (event.action, event.address, event.user_id) == ("exported", wallet.address, wallet.user_id)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"password": "not-my-password"}, "password"),
        ({"passphrase": "short", "again": "short"}, "passphrase"),
        ({"again": "a different passphrase!"}, "passphrase_again"),
        ({"password": ""}, "password"),
    ],
)
def test_export_refuses_and_gives_no_file(login_as, users, kwargs, field):
    response = export(login_as("home_malee"), **kwargs)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert field in response.context["export_form"].errors
    assert not WalletKeyEvent.objects.filter(action="exported").exists()


def test_a_wrong_password_is_in_the_audit_trail(login_as, users):
    export(login_as("home_malee"), password="guess")
    event = WalletKeyEvent.objects.get()
    assert (event.action, event.reason, event.client_ip) == ("refused", kb.WRONG_PASSWORD, "127.0.0.1")


def test_key_backup_attempts_are_limited_per_person(login_as, settings):
    settings.GTX_KEY_BACKUP_RATE = "2/h"
    client = login_as("home_malee")
    assert export(client, password="guess-1").status_code == 400
    assert export(client, password="guess-2").status_code == 400
    limited = export(client)  # even the right password waits now
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert "Too many key backup attempts" in limited.content.decode()
    # Another person's budget is their own.
    assert export(login_as("factory_rayong")).status_code == 200


# --- import ------------------------------------------------------------------------------


def test_an_imported_backup_becomes_the_wallet_here(newcomer, fresh_backup):
    key, raw = fresh_backup
    wallet = Wallet.objects.get(user__username="newcomer")
    role, region = wallet.role, wallet.region
    response = upload(newcomer, raw)
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    wallet.refresh_from_db()
    assert wallet.address == address_of(key)
    assert (wallet.role, wallet.region, wallet.custody) == (role, region, Custody.SITE)
    assert wallet_key_open(wallet).encode() == key.encode()
    assert key.encode().hex() not in bytes(wallet.sealed_key).hex()
    assert WalletKeyEvent.objects.filter(action="imported", address=address_of(key)).count() == 1
    # The wallet page is the imported account's now.
    assert address_of(key) in newcomer.get("/wallet/").content.decode()


def test_export_at_one_wallet_then_import_signs_as_the_same_account(login_as, users, newcomer):
    """The whole round trip through the pages: a user's export imported by a fresh login
    is refused (the address is taken here), and after the first user is gone it is accepted."""
    malee = users["home_malee"].wallet
    raw = export(login_as("home_malee")).content
    before = wallets_snapshot()
    refused = upload(newcomer, raw)
    assert refused.status_code == 400
    assert "Another user of this site already holds this address." in refused.content.decode()
    assert wallets_snapshot() == before
    users["home_malee"].delete()  # as if the newcomer's site were another one
    assert upload(newcomer, raw).status_code == 302
    imported = Wallet.objects.get(user__username="newcomer")
    assert imported.address == malee.address
    assert wallet_key_open(imported).encode() == wallet_key_open(malee).encode()


def oversized(raw):
    return raw + b" " * (kb.MAX_BACKUP_BYTES + 1 - len(raw))


def tampered(raw):
    document = json.loads(raw)
    c = document["cipher"]["ciphertext"]
    document["cipher"]["ciphertext"] = ("0" if c[0] != "0" else "1") + c[1:]
    return json.dumps(document).encode()


def bounds_exceeded(raw):
    document = json.loads(raw)
    document["kdf"]["memlimit"] = 2**40
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("make", "kwargs", "field", "message"),
    [
        (lambda raw: raw, {"passphrase": "not the passphrase"}, "passphrase", "does not open this backup"),
        (tampered, {}, "passphrase", "does not open this backup"),
        (lambda raw: raw, {"password": "not-my-password"}, "password", "That is not your password."),
        (oversized, {}, "backup", f"at most {kb.MAX_BACKUP_BYTES} bytes"),
        (lambda raw: b"\x89PNG\r\n\x1a\n", {}, "backup", "not a GridTokenX wallet backup"),
        (bounds_exceeded, {}, "backup", "memlimit must be a whole number"),
    ],
    ids=["wrong passphrase", "tampered", "wrong password", "oversized", "not json", "kdf bounds"],
)
def test_import_refuses_bad_input_and_changes_nothing(newcomer, fresh_backup, make, kwargs, field, message):
    _, raw = fresh_backup
    before = wallets_snapshot()
    response = upload(newcomer, make(raw), **kwargs)
    assert response.status_code == 400
    form = response.context["import_form"]
    assert message in " ".join(form.errors[field])
    assert wallets_snapshot() == before
    assert WalletKeyEvent.objects.filter(action="refused").count() == 1
    assert not WalletKeyEvent.objects.filter(action="imported").exists()


def test_import_refuses_to_strand_a_wallet_with_an_account(login_as, fresh_backup):
    """home_malee's wallet holds genesis tokens: replacing its key would lose them."""
    _, raw = fresh_backup
    before = wallets_snapshot()
    response = upload(login_as("home_malee"), raw, password=DEMO_PASSWORD)
    assert response.status_code == 400
    assert "already has an account on the ledger" in response.content.decode()
    assert wallets_snapshot() == before


def test_importing_ones_own_key_again_changes_nothing(login_as, users):
    client = login_as("home_malee")
    raw = export(client).content
    before = wallets_snapshot()
    response = upload(client, raw, password=DEMO_PASSWORD)
    assert response.status_code == 400
    assert "already your wallet" in response.content.decode()
    assert wallets_snapshot() == before


def test_the_key_page_offers_both_forms(login_as):
    body = login_as("home_malee").get("/wallet/key/").content.decode()
    assert 'action="/wallet/key/export/"' in body and 'action="/wallet/key/import/"' in body
    assert 'enctype="multipart/form-data"' in body


# --- self-custody sign-up ----------------------------------------------------------------


def self_custody_signup(client, key: SigningKey, *, username="keeper", sign_for=None, **change):
    client.get("/accounts/signup/self-custody/")
    challenge = client.session[LINK_CHALLENGE_SESSION_KEY]
    address = address_of(key)
    message = self_custody_link_message(
        chain_id="gridtokenx-th-demo-1",
        site="testserver",
        challenge=challenge,
        username=username,
        address=address,
    )
    data = {
        **NEWCOMER,
        "username": username,
        "storage": "indexeddb",
        "address": address,
        "signature": sign(sign_for or key, message),
        **change,
    }
    return client.post("/accounts/signup/self-custody/", data)


def test_self_custody_sign_up_stores_only_the_address(chain):
    client, key = a_client(), new_signing_key()
    response = self_custody_signup(client, key)
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    wallet = Wallet.objects.get(user__username="keeper")
    assert (wallet.address, wallet.custody, wallet.sealed_key, wallet.seal_key_version) == (
        address_of(key),
        Custody.SELF,
        None,
        None,
    )
    page = client.get("/wallet/").content.decode()
    assert 'id="self-custody"' in page and "self_custody.js" in page
    assert 'id="form-transfer"' not in page  # nothing here signs for this wallet
    assert LINK_CHALLENGE_SESSION_KEY not in client.session
    event = WalletKeyEvent.objects.get()
    assert (event.action, event.address, event.user_id) == ("linked", address_of(key), wallet.user_id)


def test_a_signature_over_an_old_challenge_does_not_link(chain):
    """Each page shown gets a new challenge: a signature made for an earlier page is no good."""
    client, key = a_client(), new_signing_key()
    client.get("/accounts/signup/self-custody/")
    old = client.session[LINK_CHALLENGE_SESSION_KEY]
    client.get("/accounts/signup/self-custody/")
    assert client.session[LINK_CHALLENGE_SESSION_KEY] != old
    message = self_custody_link_message(
        chain_id="gridtokenx-th-demo-1",
        site="testserver",
        challenge=old,
        username="keeper",
        address=address_of(key),
    )
    data = {
        **NEWCOMER,
        "username": "keeper",
        "storage": "local",
        "address": address_of(key),
        "signature": sign(key, message),
    }
    response = client.post("/accounts/signup/self-custody/", data)
    assert response.status_code == 400
    assert not Wallet.objects.filter(user__username="keeper").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sign_for": new_signing_key()}, "does not prove it holds this key"),
        ({"signature": "00" * 64}, "does not prove it holds this key"),
        ({"signature": "not hex"}, "does not prove it holds this key"),
        ({"address": "AB" * 32}, "did not make a key"),
    ],
    ids=["other key", "zero signature", "not hex", "upper-case address"],
)
def test_self_custody_sign_up_refuses_an_unproven_key(chain, change, message):
    before = wallets_snapshot()
    response = self_custody_signup(a_client(), new_signing_key(), **change)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert wallets_snapshot() == before


def test_self_custody_sign_up_refuses_an_address_someone_holds(chain, users):
    from chain.ledger.genesis import demo_key

    response = self_custody_signup(a_client(), demo_key("home_malee"))
    assert response.status_code == 400
    assert "Another user of this site already holds this address." in response.content.decode()
    assert not Wallet.objects.filter(user__username="keeper").exists()


def test_a_signature_for_another_username_does_not_link(chain):
    """The signed message names the login: a signature made for one cannot sign up another."""
    client, key = a_client(), new_signing_key()
    client.get("/accounts/signup/self-custody/")
    challenge = client.session[LINK_CHALLENGE_SESSION_KEY]
    message = self_custody_link_message(
        chain_id="gridtokenx-th-demo-1",
        site="testserver",
        challenge=challenge,
        username="someone",
        address=address_of(key),
    )
    data = {
        **NEWCOMER,
        "username": "keeper",
        "storage": "local",
        "address": address_of(key),
        "signature": sign(key, message),
    }
    assert client.post("/accounts/signup/self-custody/", data).status_code == 400
    assert not Wallet.objects.filter(user__username="keeper").exists()


def test_a_self_custody_wallet_has_no_key_to_export_and_cannot_use_site_signing(chain):
    client = a_client()
    self_custody_signup(client, new_signing_key())
    response = export(client, password=NEWCOMER["password1"])
    assert response.status_code == 400
    assert "Your key is in your browser" in response.content.decode()
    assert client.post("/wallet/transfer/submit/", {}).status_code == 403


def test_a_self_custody_holder_tops_up_but_signs_cash_outs_themselves(chain):
    """The issuer signs a top-up's mint, so the site can take the request; a cash-out is the
    holder's own transaction, which only their browser or client can sign."""
    from treasury.models import TopUpRequest

    client = a_client()
    self_custody_signup(client, new_signing_key())
    page = client.get("/treasury/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="cashout-self-custody"' in body and 'id="form-cashout"' not in body
    assert client.post("/treasury/topup/", {"amount": "20"}).status_code == 302
    assert TopUpRequest.objects.filter(user__username="keeper").count() == 1
    assert client.post("/treasury/cashout/", {"amount": "1"}).status_code == 403
