"""The OpenAPI schema generates cleanly and the docs page needs nothing from outside."""

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/status/",
    "/api/v1/transactions/",
    "/api/v1/transactions/{tx_hash}/",
    "/api/v1/blocks/",
    "/api/v1/blocks/{height}/",
    "/api/v1/blocks/by-hash/{block_hash}/",
    "/api/v1/accounts/{address}/",
    "/api/v1/accounts/{address}/transactions/",
    "/api/v1/validators/",
    "/api/v1/me/",
    # trading/urls.py
    "/api/v1/market/",
    "/api/v1/market/book/",
    "/api/v1/market/trades/",
    "/api/v1/market/orders/",
    "/api/v1/market/orders/{order_id}/",
    "/api/v1/market/prices/",
    "/api/v1/market/agreements/",
    # meters/api_urls.py
    "/api/v1/meters/readings/",
    "/api/v1/meters/{meter_id}/",
    # grid/api_urls.py
    "/api/v1/grid/regions/",
    "/api/v1/grid/regions/{region_id}/history/",
    "/api/v1/grid/paths/",
    # governance/urls.py
    "/api/v1/governance/proposals/",
    "/api/v1/governance/proposals/{number}/",
    "/api/v1/governance/proposals/{number}/votes/",
    "/api/v1/governance/votes/",
    # treasury/api_urls.py
    "/api/v1/treasury/topups/",
    "/api/v1/treasury/cashouts/",
    "/api/v1/treasury/queue/",
    "/api/v1/treasury/totals/",
]


def test_the_schema_generates_without_warnings(tmp_path):
    """--fail-on-warn turns any drf-spectacular warning or validation error into a failure."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "TransactionSubmission" in out.read_text()


def test_the_schema_describes_every_endpoint(client):
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert sorted(schema["paths"]) == sorted(ENDPOINTS)
    submit = schema["paths"]["/api/v1/transactions/"]["post"]
    assert set(submit["requestBody"]["content"]) == {"application/json"}
    assert {"202", "400", "413", "415", "429"} <= set(submit["responses"])
    assert submit["requestBody"]["content"]["application/json"]["examples"]


def test_the_docs_page_loads_only_local_files(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert any("swagger-ui" in ref for ref in references)
    for ref in references:
        # Its start-up script is served by the page itself (the CSP allows no inline script).
        assert ref.startswith(("/static/", "/api/v1/docs/?script")), ref
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", html), "docs page names an outside host"


@pytest.mark.browser
def test_the_docs_page_renders_in_a_browser_from_this_site_alone(live_server, tmp_path):
    from playwright.sync_api import sync_playwright

    requested = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(live_server.url + "/api/v1/docs/")
            page.wait_for_selector("text=/api/v1/transactions/{tx_hash}/", timeout=15_000)
            assert page.locator(".info .title").inner_text().startswith("GridTokenX API")
            page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=True)
        finally:
            browser.close()
    outside = [
        url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")
    ]
    assert outside == []
