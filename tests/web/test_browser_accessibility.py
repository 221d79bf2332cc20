"""axe-core over the pages people use, in English and in Thai: no serious or critical violation.

axe-core comes from npm (package.json's devDependencies, installed by ``make``) and is
injected into each page from node_modules; the site never serves it.
"""

import time
from pathlib import Path

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from tests.web.test_browser_wallet import CHROMIUM_ARGS, log_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

AXE = Path(__file__).resolve().parents[2] / "node_modules/axe-core/axe.min.js"
#: What a visitor, a trader and a regulator open first: each page as they see it.
PAGES = {
    None: ["/", "/market/", "/explorer/", "/grid/", "/governance/", "/accounts/login/", "/accounts/signup/"],
    "home_malee": [
        "/wallet/",
        "/market/trade/?slot={slot}&zone=bangkok",
        "/activity/",
        "/meters/",
        "/treasury/",
    ],
    "erc_auditor": ["/audit/"],
}
SERIOUS = ("serious", "critical")


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found if v["impact"] in SERIOUS
    ]


def trades_both_ways(live_site, genesis) -> int:
    """A trade a buyer took and one a seller took, in Bangkok in the second open slot (its gate
    is 15+ minutes away): the trade page then shows a rising and a falling price, each in its
    colour, whatever other tests left. The slot."""
    slot = live_site.get("/api/v1/market/").json()["slots"][1]["slot_ms"]
    order = {"energy_wh": 1_000, "price_per_kwh": 3_000_000, "zone": "bangkok", "delivery_slot": slot}
    sell = {**order, "side": "sell", "source": "solar"}
    buy = {**order, "side": "buy", "sources": ["solar"]}
    nonces = {}

    def signed(username: str, payload: dict) -> dict:
        key = demo_key(username)
        if username not in nonces:
            nonces[username] = live_site.get(f"/api/v1/accounts/{address_of(key)}/").json()["next_nonce"]
        nonces[username] += 1
        return sign_transaction(
            key, chain_id=genesis.chain_id, nonce=nonces[username] - 1, kind="order_place", payload=payload
        ).to_wire()

    # In block order: a sell rests and a buy takes it, then a buy rests and a sell takes it.
    batch = [
        signed("solar_somchai", sell),
        signed("home_malee", buy),
        signed("home_malee", buy),
        signed("solar_somchai", sell),
    ]
    response = live_site.post("/api/v1/transactions/", json=batch)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    for order_id in response.json()["hashes"]:
        while live_site.get(f"/api/v1/market/orders/{order_id}/").json().get("status") != "filled":
            assert time.monotonic() < deadline, f"order {order_id} not filled"
            time.sleep(0.2)
    return slot


@pytest.mark.parametrize("language", ["en", "th"])
def test_the_main_pages_have_no_serious_accessibility_violation(live_site, genesis, language):
    from playwright.sync_api import sync_playwright

    slot = trades_both_ways(live_site, genesis)

    found = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for username, paths in PAGES.items():
                context = browser.new_context(bypass_csp=True)  # the site's CSP refuses injected scripts
                context.add_cookies([{"name": "django_language", "value": language, "url": live_site.url}])
                page = log_in(context, live_site, username) if username else context.new_page()
                for path in paths:
                    page.goto(live_site.url + path.format(slot=slot))
                    page.wait_for_load_state("load")
                    if path.startswith("/market/trade/"):  # both colours of price are checked
                        assert page.locator("#market-trades td.up").count() > 0
                        assert page.locator("#market-trades td.down").count() > 0
                    assert page.evaluate("document.documentElement.lang") == language, path
                    if problems := violations(page):
                        found[f"{username or 'visitor'} {path}"] = problems
                context.close()
        finally:
            browser.close()
    assert found == {}, "\n".join(
        f"{page}: {problem}" for page, problems in found.items() for problem in problems
    )
