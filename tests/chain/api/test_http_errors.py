"""Every failure under /api/ is JSON with a stable code: routes, methods, media types, rates."""

import random

import pytest

from chain.api import errors as api_errors
from tests.chain.api.conftest import SUBMIT, assert_refused, ledger_snapshot, signed

pytestmark = pytest.mark.django_db


def json_error(response, http_status: int) -> dict:
    assert response.status_code == http_status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"]
    return error


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/v1/", "/api/v1/nothing/", "/api/v2/blocks/", "/api/v1/blocks/abc/", "/api/v1/status"],
)
def test_unknown_api_routes_are_json_404s(chain, api, path):
    assert json_error(api.get(path), 404)["code"] == api_errors.NOT_FOUND


def test_unknown_api_routes_are_json_404s_for_every_method(chain, api):
    assert json_error(api.post("/api/v1/nothing/", data="{}", content_type="application/json"), 404)
    assert json_error(api.delete("/api/v1/nothing/"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", SUBMIT),
        ("put", SUBMIT),
        ("delete", SUBMIT),
        ("post", "/api/v1/blocks/"),
        ("post", "/api/v1/status/"),
        ("delete", f"/api/v1/accounts/{'a' * 64}/"),
        ("patch", "/api/v1/blocks/1/"),
    ],
)
def test_wrong_methods_are_refused(chain, api, method, path):
    before = ledger_snapshot()
    response = getattr(api, method)(path)
    assert json_error(response, 405)["code"] == api_errors.METHOD_NOT_ALLOWED
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_intake_takes_json_only(chain, api, content_type):
    before = ledger_snapshot()
    body = '{"chain_id": "x"}'
    response = api.generic("POST", SUBMIT, body, content_type=content_type)
    assert_refused(response, api_errors.UNSUPPORTED_MEDIA_TYPE, before, http_status=415)


def test_intake_accepts_json_with_a_charset(chain, api):
    import json

    response = api.post(
        SUBMIT, data=json.dumps(signed("wind_korat")), content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 202, response.content


def test_intake_is_rate_limited_per_client_ip(chain, api, submit, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"tx_submit": "2/day"}}
    # Loopback addresses of this test alone: the counters live in the shared Redis.
    ip, other_ip = (f"127.{random.randrange(1, 255)}.{random.randrange(255)}.{n}" for n in (1, 2))
    assert submit(signed("wind_korat", nonce=0), REMOTE_ADDR=ip).status_code == 202
    assert submit(signed("wind_korat", nonce=1), REMOTE_ADDR=ip).status_code == 202
    before = ledger_snapshot()

    throttled = submit(signed("wind_korat", nonce=2), REMOTE_ADDR=ip)

    assert_refused(throttled, api_errors.RATE_LIMITED, before, http_status=429)
    assert int(throttled["Retry-After"]) > 0
    assert submit(signed("wind_korat", nonce=2), REMOTE_ADDR=other_ip).status_code == 202


def test_a_forwarded_for_header_does_not_dodge_the_limit(chain, api, submit, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"tx_submit": "1/day"}}
    ip = f"127.{random.randrange(1, 255)}.{random.randrange(255)}.3"
    assert submit(signed("wind_korat", nonce=0), REMOTE_ADDR=ip).status_code == 202

    spoofed = submit(signed("wind_korat", nonce=1), REMOTE_ADDR=ip, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert json_error(spoofed, 429)["code"] == api_errors.RATE_LIMITED


def test_a_missing_trailing_slash_is_pointed_out(chain, api):
    error = json_error(api.get("/api/v1/status"), 404)
    assert "/api/v1/status/" in error["message"]
