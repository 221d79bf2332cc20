"""The role matrix: every page and endpoint against every role (tests/conftest.py ROLES).

One table, route x role -> status, for the explorer, wallets, admin, audit, governance
and validators. What a role sees or changes once let in is tested beside each feature
(here for wallets, in tests/audit and tests/governance for theirs).
"""

import pytest
from django.db import transaction

from audit.models import ChainVerification
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import MempoolTx
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from governance import services as governance
from governance.ledger import rules as governance_rules
from tests.conftest import ROLES

pytestmark = pytest.mark.django_db

EGAT = address_of(demo_key("EGAT"))
PEA = address_of(demo_key("PEA"))
TOKEN = 1_000_000

#: Status per role, in ROLES order: anonymous, consumer, other_consumer, producer, regulator, staff.
EVERYONE = (200,) * 6
READERS_ONLY = (302, 403, 403, 403, 200, 200)  # regulators and staff; anonymous to the login
LOGGED_IN = (302, 200, 200, 200, 200, 200)
STAFF_ACTION = (302, 403, 403, 403, 403, 302)  # staff's click signs and redirects
TRANSACTING = (302, 200, 200, 200, 403, 200)  # everyone who may sign; staff as the site's validator
NOT_ALLOWED = (405,) * 6

AUDIT_PAGES = [
    "/audit/",
    "/audit/trades/",
    "/audit/trades/?zone=bangkok&account=home_malee",
    "/audit/trades/export.csv",
    "/audit/blocks/",
    "/audit/accounts/",
    "/audit/accounts/{malee}/",
    "/audit/verify/",
    "/audit/verify/{run}/",
    "/audit/verify/{run}/?part=progress",
    "/audit/surveillance/",
    "/audit/surveillance/?days=0",
    "/audit/certificates/",
    "/audit/certificates/?status=claimed",
    "/audit/reports/",
    "/audit/reports/?period=hour",
    "/audit/reports/export.csv",
    "/audit/reports/export.csv?table=flows",
    "/audit/reports/export.json",
]
GOVERNANCE_API = [
    "/api/v1/governance/proposals/",
    "/api/v1/governance/proposals/1/",
    "/api/v1/governance/proposals/1/votes/",
    "/api/v1/governance/votes/",
]
WALLET_FORM = {"transfer-recipient": "{somchai}", "transfer-amount": "1", "stake_bond-amount": "1"}
METER_REQUEST = {
    "device_key": address_of(demo_key("meter/matrix")),
    "kind": "solar",
    "rated_capacity_w": "5000",
    "region": "bangkok",
}
REGISTER = {
    "register-public_key": address_of(demo_key("SOLARCO")),
    "register-name": "SOLARCO",
    "register-url": "https://solarco.example",
    "register-region": "north",
}

#: (method, path, form data, status per role). Paths name what ``world`` made: {tx} the
#: transfer of block 1, {malee} and {somchai} their addresses, {run} a verification.
MATRIX = [
    # The explorer: public.
    ("GET", "/", None, EVERYONE),
    ("GET", "/manifest.webmanifest", None, EVERYONE),
    ("GET", "/sw.js", None, EVERYONE),
    ("GET", "/offline/", None, EVERYONE),
    ("GET", "/explorer/", None, EVERYONE),
    ("GET", "/explorer/block/1/", None, EVERYONE),
    ("GET", "/explorer/search/?q=1", None, (302,) * 6),  # to block 1
    ("GET", "/explorer/tx/{tx}/", None, EVERYONE),
    ("GET", "/explorer/account/{malee}/", None, EVERYONE),
    # Wallets: one's own for whoever is logged in; others' and the people list read-only.
    ("GET", "/wallet/", None, LOGGED_IN),
    ("GET", "/wallets/", None, READERS_ONLY),
    ("GET", "/wallets/home_malee/", None, READERS_ONLY),
    ("GET", "/wallets/nobody/", None, (302, 403, 403, 403, 404, 404)),
    # Sent forms redirect to the wallet; solar_somchai's is to himself, so it comes back (200).
    ("POST", "/wallet/transfer/submit/", WALLET_FORM, (302, 302, 302, 200, 403, 403)),
    ("POST", "/wallet/transfer/check/?field=amount", WALLET_FORM, (302, 200, 200, 200, 403, 403)),
    ("POST", "/wallet/stake_bond/submit/", WALLET_FORM, (302, 302, 302, 302, 403, 403)),
    ("GET", "/wallet/transfer/submit/", None, (302, 405, 405, 405, 403, 403)),
    # Key backups: for whoever holds a consumer's or producer's wallet. An empty form is refused (400).
    ("GET", "/wallet/key/", None, (302, 200, 200, 200, 403, 403)),
    ("POST", "/wallet/key/export/", {}, (302, 400, 400, 400, 403, 403)),
    ("POST", "/wallet/key/import/", {}, (302, 400, 400, 400, 403, 403)),
    ("GET", "/wallet/key/export/", None, (302, 405, 405, 405, 403, 403)),
    ("GET", "/wallet/key/import/", None, (302, 405, 405, 405, 403, 403)),
    # Self-custody sign-up: for people not logged in; the others go to their wallet.
    ("GET", "/accounts/signup/self-custody/", None, (200, 302, 302, 302, 302, 302)),
    ("POST", "/accounts/signup/self-custody/", {}, (400, 302, 302, 302, 302, 302)),
    ("GET", "/admin/", None, (302, 302, 302, 302, 302, 200)),
    # Meter requests: producers ask (at EGAT's site, which is no region's utility, the request comes
    # back refused: 400); only a utility's staff decide (tests/meters/test_requests.py at MEA's site).
    ("GET", "/meters/requests/", None, (302, 403, 403, 200, 403, 403)),
    ("POST", "/meters/requests/", METER_REQUEST, (302, 403, 403, 400, 403, 403)),
    ("GET", "/meters/requests/queue/", None, READERS_ONLY),
    ("POST", "/meters/requests/1/approve/", {}, (302, 403, 403, 403, 403, 403)),
    ("POST", "/meters/requests/1/refuse/", {"reason": "no"}, (302, 403, 403, 403, 403, 403)),
    # Certificates and statements: whoever holds a consumer's or producer's wallet; an empty
    # form comes back refused (400) for those who may sign; regulators and staff hold none.
    ("GET", "/certificates/", None, (302, 200, 200, 200, 403, 403)),
    ("GET", "/certificates/claimed.csv", None, (302, 200, 200, 200, 403, 403)),
    ("POST", "/certificates/transfer/", {}, (302, 400, 400, 400, 403, 403)),
    ("POST", "/certificates/claim/", {}, (302, 400, 400, 400, 403, 403)),
    ("GET", "/certificates/claim/", None, (302, 405, 405, 405, 403, 403)),
    ("GET", "/statement/", None, (302, 200, 200, 200, 403, 403)),
    ("GET", "/statement/?month=2026-11", None, (302, 200, 200, 200, 403, 403)),
    ("GET", "/statement/?month=2026-13", None, (302, 404, 404, 404, 403, 403)),
    ("GET", "/statement/export.csv?month=2026-11", None, (302, 200, 200, 200, 403, 403)),
    # Audit: regulators and staff.
    *[("GET", path, None, READERS_ONLY) for path in AUDIT_PAGES],
    ("POST", "/audit/verify/start/", {"replay": "on"}, (302, 403, 403, 403, 302, 302)),
    ("GET", "/audit/verify/start/", None, NOT_ALLOWED),
    # Governance: pages and REST reads public; proposing and voting for who may sign.
    ("GET", "/governance/", None, EVERYONE),
    ("GET", "/governance/?status=open", None, EVERYONE),
    ("GET", "/governance/1/", None, EVERYONE),
    ("GET", "/governance/1/?part=tally", None, EVERYONE),
    *[("GET", path, None, EVERYONE) for path in GOVERNANCE_API],
    *[("POST", path, {}, NOT_ALLOWED) for path in GOVERNANCE_API],
    ("GET", "/governance/new/", None, TRANSACTING),
    ("POST", "/governance/new/check/?field=title", {"proposal-title": "x"}, TRANSACTING),
    # Consumers have no stake: their form comes back with the reason (200).
    (
        "POST",
        "/governance/new/",
        {"proposal-title": "Hello", "proposal-action": "text"},
        (302, 200, 200, 302, 403, 302),
    ),
    ("POST", "/governance/1/vote/", {"option": "yes"}, (302, 302, 302, 302, 403, 302)),
    ("GET", "/governance/1/vote/", None, (302, 405, 405, 405, 403, 405)),
    # Validators: pages for everyone logged in, actions for staff.
    ("GET", "/validators/", None, LOGGED_IN),
    ("GET", "/validators/?part=health", None, LOGGED_IN),
    ("GET", "/validators/audit/", None, LOGGED_IN),
    ("POST", "/validators/register/", REGISTER, STAFF_ACTION),
    ("POST", f"/validators/{PEA}/active/", {"active": "true"}, STAFF_ACTION),
    ("POST", "/validators/stake/", {"stake-direction": "unbond", "stake-amount": "1"}, STAFF_ACTION),
    ("POST", f"/validators/{EGAT}/unjail/", {}, STAFF_ACTION),
    ("POST", "/validators/mining/", {"mining": "false"}, STAFF_ACTION),
    (
        "POST",
        "/validators/register/check/?field=url",
        {"register-url": "ftp://x"},
        (302, 403, 403, 403, 403, 200),
    ),
]


@pytest.fixture
def world(committed_transfer, users, produce):
    """Block 1: home_malee's transfer; block 2: solar_somchai stakes; block 3: proposal #1
    (by solar_somchai); and a verification run a regulator started."""
    transaction_sign_submit(
        key=wallet_key_open(users["solar_somchai"].wallet),
        kind="stake_bond",
        payload={"amount": 1500 * TOKEN},
    )
    produce()
    governance.proposal_create(
        wallet=users["solar_somchai"].wallet,
        payload={
            "title": "Longer gate closure",
            "action": governance_rules.PARAM_CHANGE,
            "param": "gate_closure_minutes",
            "value": 10,
        },
    )
    produce()
    run = ChainVerification.objects.create(started_by=users["erc_auditor"], target_height=3)
    return {
        "tx": committed_transfer.hash,
        "malee": users["home_malee"].wallet.address,
        "somchai": users["solar_somchai"].wallet.address,
        "run": run.pk,
    }


@pytest.mark.parametrize(
    ("method", "path", "data", "statuses"), MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX]
)
def test_the_role_matrix(client_as, world, method, path, data, statuses):
    url = path.format(**world)
    answers, logins = {}, []
    for role in ROLES:
        client = client_as(role)
        with transaction.atomic():  # each role meets the same world: what one posts is undone
            if method == "GET":
                response = client.get(url)
            elif path.startswith("/api/"):
                response = client.post(url, data, content_type="application/json")
            else:
                response = client.post(url, {key: value.format(**world) for key, value in data.items()})
            transaction.set_rollback(True)
        answers[role] = response.status_code
        if role == "anonymous" and response.status_code == 302:
            logins.append(response["Location"])

    assert answers == dict(zip(ROLES, statuses, strict=True))
    assert all("/login/" in location for location in logins) or url.startswith("/explorer/")


def test_the_matrix_names_every_route_once():
    routes = [(method, path) for method, path, *_ in MATRIX]
    assert len(routes) == len(set(routes))
    assert all(len(statuses) == len(ROLES) for *_, statuses in MATRIX)


# --- what each role sees and changes once let in -------------------------------------


@pytest.mark.parametrize(
    ("role", "shows_name"),
    [
        (role, role in ("regulator", "staff"))
        for role in ("anonymous", "consumer", "producer", "regulator", "staff")
    ],
)
def test_only_regulator_and_staff_see_who_owns_an_address(
    client_as, committed_transfer, users, role, shows_name
):
    client = client_as(role)
    address = users["solar_somchai"].wallet.address
    account_page = client.get(f"/explorer/account/{address}/").content.decode()
    assert ("Account of solar_somchai" in account_page) is shows_name
    for path in (f"/explorer/tx/{committed_transfer.hash}/", "/explorer/block/1/"):
        body = client.get(path).content.decode()
        assert ('<span class="owner">home_malee</span>' in body) is shows_name, path


@pytest.mark.parametrize(
    ("role", "has_forms"), [("consumer", True), ("producer", True), ("regulator", False)]
)
def test_own_wallet_page_shows_forms_only_to_those_who_may_transact(client_as, users, role, has_forms):
    body = client_as(role).get("/wallet/").content.decode()
    assert ('id="form-transfer"' in body) is has_forms
    assert ("<form" in body.split("</header>", 1)[1].split("<footer")[0]) is has_forms


def test_staff_without_wallet_get_a_page_that_says_so(client_as):
    assert b"This login has no wallet" in client_as("staff").get("/wallet/").content


@pytest.mark.parametrize("role", ["regulator", "staff"])
def test_other_wallets_open_read_only(client_as, chain, role):
    body = client_as(role).get("/wallets/home_malee/").content
    assert b"Wallet of home_malee" in body
    assert b'id="form-transfer"' not in body
    assert b"read-only" in body


@pytest.mark.parametrize(
    "path", ["/wallet/transfer/submit/", "/wallet/transfer/check/?field=amount", "/wallet/stake_bond/submit/"]
)
@pytest.mark.parametrize("role", ["anonymous", "regulator", "staff"])
def test_those_who_may_not_transact_put_nothing_in_the_mempool(client_as, users, path, role):
    data = {
        "transfer-recipient": users["solar_somchai"].wallet.address,
        "transfer-amount": "1",
        "stake_bond-amount": "1",
    }
    client_as(role).post(path, data)
    assert MempoolTx.objects.count() == 0


def test_the_people_list_shows_every_wallet_and_balance(client_as, chain):
    body = client_as("regulator").get("/wallets/").content.decode()
    assert "/wallets/factory_rayong/" in body and "100,000.00" in body
