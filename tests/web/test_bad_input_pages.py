"""Hostile numbers and NUL in URLs get a 4xx or the page's default, never a 500.

``str.isdigit()`` took "²" (int() then raised) and nothing bounded the digits
int() was given; a NUL in a path or query reached PostgreSQL, which cannot
store it. The hostile sweep (tests/site/test_hostile_sweep.py) found these on
a live site; these tests hold each finding in this process.
"""

import pytest
from channels.testing import HttpCommunicator

from chain.ledger.fields import whole_number
from gridtokenx_site.asgi import application
from gridtokenx_site.edge import BAD_REQUEST

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "%C2%B2"  # "²": str.isdigit() says yes, int() says no
ARABIC_THREE = "%D9%A3"  # "٣": int() reads it as 3
LONG = "9" * 5000  # past int()'s 4,300 digits


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("9" * 16, 10**16 - 1), ("", None), (None, None), ("²", None), ("٣", None)]
    + [
        (" 1", None),
        ("1 ", None),
        ("1\n", None),
        ("-1", None),
        ("+1", None),
        ("1_000", None),
        ("9" * 17, None),
    ],
)
def test_whole_number_takes_ascii_digits_only(text, value):
    assert whole_number(text) == value


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/market/trades/?limit={SUPERSCRIPT_TWO}",
        f"/api/v1/market/book/?slot={SUPERSCRIPT_TWO}",
        f"/api/v1/market/prices/?slot={ARABIC_THREE}",
        f"/api/v1/grid/paths/?slot={SUPERSCRIPT_TWO}",
        f"/api/v1/grid/regions/bangkok/history/?resolution={SUPERSCRIPT_TWO}",
        f"/api/v1/governance/proposals/?limit={SUPERSCRIPT_TWO}",
        f"/api/v1/governance/votes/?limit={LONG}",
    ],
)
def test_rest_reads_refuse_hostile_numbers_as_bad_query(chain, client, path):
    response = client.get(path)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_query"


@pytest.mark.parametrize(
    "path",
    [
        f"/explorer/search/?q={SUPERSCRIPT_TWO}",
        f"/explorer/search/?q={LONG}",
        f"/grid/?slot={SUPERSCRIPT_TWO}",
        f"/grid/?slot={LONG}",
        f"/market/?slot={SUPERSCRIPT_TWO}",
        f"/market/?slot={LONG}",
    ],
)
def test_pages_fall_back_to_their_default_on_hostile_numbers(chain, client, path):
    assert client.get(path).status_code in (200, 302, 404)


@pytest.mark.parametrize("who", [None, "erc_auditor"])
@pytest.mark.parametrize(
    "path",
    [f"/audit/?slot={SUPERSCRIPT_TWO}", f"/audit/blocks/?page={SUPERSCRIPT_TWO}&from={LONG}"],
)
def test_audit_pages_fall_back_on_hostile_numbers(login_as, path, who):
    assert login_as(who).get(path).status_code in (200, 302)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/explorer/tx/%00/",
        "/market/trades/a%00b/",
        "/wallets/%00/",
        "/meters/%00/",
        "/audit/accounts/?q=%00",
        "/audit/trades/?account=%00",
        "/api/v1/status/?q=%00",
        "/api/v1/accounts/%00/",
        "/peer/v1/status/?x=%00",
    ],
)
async def test_a_request_line_spelling_nul_is_refused_before_any_view(path):
    response = await HttpCommunicator(application, "GET", path).get_response(timeout=5)
    assert response["status"] == 400
    assert b'"code": "' + BAD_REQUEST.encode() + b'"' in response["body"]


@pytest.mark.parametrize("path", ["/explorer/tx/%E2%80%AE/", "/market/trades/" + "g" * 64 + "/"])
def test_lookups_of_what_cannot_be_a_hash_are_not_found(chain, client, path):
    assert client.get(path).status_code == 404
