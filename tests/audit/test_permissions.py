"""What the audit lets each role do, and a regulator's POSTs site-wide.

Who may open each audit page is in the role matrix, tests/web/test_permissions.py.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver

from audit.models import ChainVerification
from chain.models import Account, Block, ChainTx, MempoolTx
from tests.conftest import READERS, ROLES
from tests.trading.harness import sell
from trading import selectors as market
from trading.models import Order
from trading.services import order_place

pytestmark = pytest.mark.django_db

MALEE = "2147394e5ec448b3f306deee091cf82b044bb12f834220e9b9c436bff7397bd5"


@pytest.mark.parametrize("persona", ROLES)
def test_only_regulators_and_staff_start_a_verification(client_as, transfers, persona):
    """Who may post is in the role matrix (tests/web/test_permissions.py); this is what it starts."""
    response = client_as(persona).post("/audit/verify/start/", {"replay": "on"})
    if persona in READERS:
        run = ChainVerification.objects.get()
        assert response["Location"] == f"/audit/verify/{run.pk}/"
        assert run.replay and run.target_height == 3 and run.status == "queued"
    else:
        assert ChainVerification.objects.count() == 0


def test_a_second_start_says_one_is_running(client_as, transfers):
    client = client_as("regulator")
    client.post("/audit/verify/start/")
    response = client.post("/audit/verify/start/", follow=True)
    assert b"already queued or running" in response.content
    assert ChainVerification.objects.count() == 1


@pytest.mark.parametrize(("persona", "shown"), [(p, p in READERS) for p in ROLES])
def test_the_audit_link_shows_for_regulators_and_staff_only(client_as, chain, persona, shown):
    body = client_as(persona).get("/explorer/").content.decode()
    assert ('href="/audit/"' in body) is shown


# --- every POST on the site, as a regulator ------------------------------------------------

#: Routes a regulator may POST to, and why: none of them writes the ledger.
ALLOWED = {
    "/audit/verify/start/": "starts a read-only verification",
    "/accounts/login/": "a login form (the session, not the ledger)",
    "/accounts/logout/": "ends the session",
}


#: Paths that write when someone allowed posts to them: a regulator must get a 4xx there.
WRITES = re.compile(r"submit|check|order/|cancel|vote|new/|unjail|active/|stake/|bond|register")


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if pattern.startswith("admin/"):
                continue  # Django admin: staff only, covered below
            yield from _routes(entry, pattern)
        elif isinstance(entry, URLPattern):
            yield pattern


def _concrete(pattern: str, values: dict) -> str | None:
    """A route pattern with each parameter filled from ``values`` (by name, else by converter)."""
    if pattern.startswith("^") or "(?P" in pattern or pattern in ("", "^"):
        return None if pattern not in ("",) else "/"

    def fill(match):
        converter, name = match.group(1) or "str", match.group(2)
        return str(values.get(name, 1 if converter == "int" else "x"))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, pattern)


def ledger_state() -> tuple:
    return (
        MempoolTx.objects.count(),
        list(Account.objects.order_by("address").values_list()),
        Block.objects.count(),
        ChainTx.objects.count(),
        Order.objects.count(),
        get_user_model().objects.count(),
        ChainVerification.objects.count(),
    )


def test_every_post_a_regulator_tries_is_refused_but_starting_a_verification(client_as, users, transfers):
    slot = market.slots_open(count=2)[1]
    order = order_place(wallet=users["wind_korat"].wallet, **sell(slot, kwh=1, source="wind"))
    values = {
        "kind": "transfer",
        "order_id": order.hash,
        "username": "home_malee",
        "address": MALEE,
        "tx_hash": ChainTx.objects.first().hash,
        "height": 1,
        "pk": 1,
        "number": 1,
        "public_key": "352f02dbb56dbbae70c356d2a51cf9d319d52dc77f5264ad2d711428a3dd8ac1",  # ERC
    }
    data = {
        "transfer-recipient": users["solar_somchai"].wallet.address,
        "transfer-amount": "1",
        "stake_bond-amount": "1",
        "order-side": "buy",
        "order-delivery_slot": str(slot),
        "order-zone": "bangkok",
        "order-energy_kwh": "1",
        "order-price": "4",
        "username": "newcomer",
        "password1": "x7!long-pass",
        "role": "consumer",
    }
    client = client_as("regulator")
    client.raise_request_exception = False
    before = ledger_state()
    tried = []
    for pattern in _routes():
        path = _concrete(pattern, values)
        if path is None or path in ALLOWED:
            continue
        response = client.post(path, data)
        tried.append(path)
        status = response.status_code
        if status >= 500 and client.get(path).status_code >= 500:
            continue  # a page broken for reading too (another app's work in progress), not a write
        # Whatever the answer, nothing a regulator posts changes the ledger, the users or the mempool.
        assert ledger_state() == before, (path, status)
        refused = 400 <= status < 500 or (status == 302 and "/login/" in response["Location"])
        if WRITES.search(path):
            assert refused, (path, status)
    assert ledger_state() == before
    assert {
        "/market/trade/order/",
        "/wallet/transfer/submit/",
        f"/market/orders/{order.hash}/cancel/",
    } <= set(tried)
    # The one write a regulator may make: it queues a check and nothing on the ledger.
    assert client.post("/audit/verify/start/").status_code == 302
    assert ChainVerification.objects.count() == 1


@pytest.mark.parametrize("path", ["/admin/", "/admin/chain/wallet/add/", "/admin/auth/user/add/"])
def test_django_admin_refuses_a_regulators_post(client_as, chain, path):
    before = ledger_state()
    response = client_as("regulator").post(path, {"username": "x"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert ledger_state() == before
