"""Every JSON body the API decodes goes through the one strict decoder: 400 malformed_json, never a 500.

Nesting ~1,000 deep used to exhaust the interpreter's recursion (a 500 on every
JSON endpoint); duplicate keys, NaN and NUL used to slip through to admission.
"""

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from chain.api import errors as api_errors
from tests.chain.api.conftest import SUBMIT, assert_refused, ledger_snapshot

pytestmark = pytest.mark.django_db

READINGS = "/api/v1/meters/readings/"

#: Documents json.loads takes whole or dies on, and the strict decoder refuses.
MALFORMED = {
    "arrays 1,000 deep": "[" * 1000 + "]" * 1000,
    "objects 1,000 deep": '{"a":' * 1000 + "1" + "}" * 1000,
    "arrays 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "unclosed 50,000 deep": "[" * 50_000,
    "33 levels": "[" * 33 + "]" * 33,
    "a duplicate key": '{"chain_id": "a", "chain_id": "b"}',
    "NaN": '{"nonce": NaN}',
    "-Infinity": '{"nonce": -Infinity}',
    "an escaped NUL": '{"kind": "transfer\\u0000"}',
    "a lone surrogate": '{"kind": "\\ud800"}',
    "not UTF-8": b'{"kind": "\xff"}',
    "a 5,000-digit number": '{"nonce": ' + "9" * 5000 + "}",
    "not JSON": "{",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("path", [SUBMIT, READINGS])
def test_the_intake_refuses_malformed_json_whole(chain, api, path, body):
    before = ledger_snapshot()
    response = api.post(path, data=body, content_type="application/json")
    assert_refused(response, api_errors.MALFORMED_JSON, before)


class EchoKeys(APIView):
    """A view that lets DRF parse the body with the parsers of settings.REST_FRAMEWORK."""

    authentication_classes = []

    def post(self, request):
        return Response({"keys": sorted(request.data)})


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_drf_parses_bodies_with_the_strict_decoder(body):
    request = APIRequestFactory().post("/", data=body, content_type="application/json")
    response = EchoKeys.as_view()(request)
    assert response.status_code == 400
    assert response.data["error"]["code"] == api_errors.MALFORMED_JSON


def test_drf_still_parses_plain_json():
    request = APIRequestFactory().post(
        "/", data='{"b": [1, {"c": null}], "a": 2}', content_type="application/json"
    )
    response = EchoKeys.as_view()(request)
    assert response.status_code == 200 and response.data == {"keys": ["a", "b"]}
