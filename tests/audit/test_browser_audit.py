"""A regulator in a real browser: exports the trades as CSV and watches verify-the-chain run."""

import csv
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.management.commands.init import DEMO_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path("/tmp/audit-shots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def signed(live_site, genesis, username, payload, nonce_offset=0):
    key = demo_key(username)
    account = live_site.get(f"/api/v1/accounts/{address_of(key)}/").json()
    return sign_transaction(
        key,
        chain_id=genesis.chain_id,
        nonce=account["next_nonce"] + nonce_offset,
        kind="order_place",
        payload=payload,
    ).to_wire()


def trade_on(live_site, genesis, seller, buyer, *, kwh, zone, source) -> str:
    """A sell and a crossing buy sent together; returns the trade id once it is committed."""
    slot = live_site.get("/api/v1/market/").json()["slots"][1]["slot_ms"]
    order = {"energy_wh": kwh * 1000, "price_per_kwh": 3_000_000, "zone": zone, "delivery_slot": slot}
    sell = signed(live_site, genesis, seller, {**order, "side": "sell", "source": source})
    buy = signed(live_site, genesis, buyer, {**order, "side": "buy", "sources": "any"})
    response = live_site.post("/api/v1/transactions/", json=[sell, buy])
    assert response.status_code == 202, response.text
    sell_id = response.json()["hashes"][0]

    def traded():
        response = live_site.get("/api/v1/market/trades/", params={"slot": slot, "zone": zone})
        if response.status_code != 200:
            return None  # a busy shared machine: ask again
        return next((t["trade_id"] for t in response.json() if t["sell_order_id"] == sell_id), None)

    return live_site.wait_for(traded, timeout=60)


def log_in(browser, site, username, **context):
    page = browser.new_context(**context).new_page()
    page.goto(site.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/wallet/")
    return page


def test_a_regulator_exports_trades_and_verifies_the_chain(live_site, genesis):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    first = trade_on(live_site, genesis, "hydro_nan", "solar_somchai", kwh=2, zone="north", source="hydro")
    second = trade_on(
        live_site, genesis, "wind_korat", "factory_rayong", kwh=3, zone="northeast", source="wind"
    )
    # The same two accounts trade back at once: a wash.
    back = trade_on(live_site, genesis, "solar_somchai", "hydro_nan", kwh=2, zone="north", source="solar")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = log_in(
                browser,
                live_site,
                "erc_auditor",
                viewport={"width": 1280, "height": 900},
                accept_downloads=True,
            )
            page.click("nav .nav-links >> text=Audit")
            expect(page.locator("h1")).to_have_text("Audit")
            page.screenshot(path=SHOTS / "audit-home.png", full_page=True)

            # Every trade, both parties by name; the export is the same rows as CSV.
            page.click(".audit-nav >> text=Trades")
            expect(page.locator(f'tr[data-trade="{first}"]')).to_contain_text("hydro_nan")
            expect(page.locator(f'tr[data-trade="{second}"]')).to_contain_text("factory_rayong")
            page.screenshot(path=SHOTS / "audit-trades.png", full_page=True)
            with page.expect_download() as download_info:
                page.click("#export-trades")
            download = download_info.value
            assert download.suggested_filename == "gridtokenx-trades.csv"
            with open(download.path(), newline="") as f:
                rows = {row["trade_id"]: row for row in csv.DictReader(f)}
            assert {first, second} <= set(rows)
            assert (rows[first]["seller_name"], rows[first]["buyer_name"]) == ("hydro_nan", "solar_somchai")
            assert (rows[second]["energy_wh"], rows[second]["seller_zone"]) == ("3000", "northeast")
            assert rows[first]["delivered_wh"] == "pending"

            # Filter by account: only that account's trades stay.
            page.fill("input[name=account]", "factory_rayong")
            page.click("#trade-filters button[type=submit]")
            expect(page.locator(f'tr[data-trade="{second}"]')).to_be_visible()
            expect(page.locator(f'tr[data-trade="{first}"]')).to_have_count(0)

            # Verify the chain, with a replay: the progress updates itself until it passes.
            page.click(".audit-nav >> text=Verify the chain")
            page.check("input[name=replay]")
            page.click("#verify-start")
            page.wait_for_url("**/audit/verify/*/")
            page.screenshot(path=SHOTS / "audit-verify-running.png", full_page=True)
            expect(page.locator("#verification-progress")).to_have_attribute(
                "data-status", "passed", timeout=60_000
            )
            expect(page.locator("#verification-result")).to_contain_text("Every block from genesis")
            expect(page.locator("#verification-result")).to_contain_text("reproduces every state root")
            page.screenshot(path=SHOTS / "audit-verify-passed.png", full_page=True)

            page.click(".audit-nav >> text=Reports")
            expect(page.locator("#report-table tbody tr").first).to_be_visible()
            page.wait_for_function("window.Chart && Object.keys(window.Chart.instances).length === 2")
            page.screenshot(path=SHOTS / "audit-reports.png", full_page=True)
            page.click(".audit-nav >> text=Surveillance")
            wash = page.locator('.finding[data-rule="wash_trade"]')
            expect(wash).to_contain_text("hydro_nan")
            expect(wash.locator(f'[data-trade-link="{first}"]')).to_be_visible()
            expect(wash.locator(f'[data-trade-link="{back}"]')).to_be_visible()
            page.screenshot(path=SHOTS / "audit-surveillance.png", full_page=True)
            page.click(".audit-nav >> text=Blocks")
            expect(page.locator("#audit-blocks .status-ok").first).to_be_visible()
            page.screenshot(path=SHOTS / "audit-blocks.png", full_page=True)
            page.goto(live_site.url + f"/audit/accounts/{address_of(demo_key('hydro_nan'))}/")
            expect(page.locator("#balance-chart")).to_be_visible()
            page.screenshot(path=SHOTS / "audit-account.png", full_page=True)

            # A precommit signature forged in the site's database: the next run names its block.
            with psycopg.connect(live_site.database_url.replace("postgres://", "postgresql://", 1)) as db:
                (certificate,) = db.execute(
                    "SELECT commit_certificate FROM chain_block WHERE height = 1"
                ).fetchone()
                forged = [{**certificate[0], "signature": "00" * 64}]
                db.execute("UPDATE chain_block SET commit_certificate = %s WHERE height = 1", [Jsonb(forged)])
            try:
                page.goto(live_site.url + "/audit/verify/")
                page.click("#verify-start")
                page.wait_for_url("**/audit/verify/*/")
                expect(page.locator("#verification-progress")).to_have_attribute(
                    "data-status", "failed", timeout=60_000
                )
                expect(page.locator("#verification-result")).to_contain_text("First bad block: #1")
                expect(page.locator("#verification-result")).to_contain_text("precommit 0")
                page.screenshot(path=SHOTS / "audit-verify-failed.png", full_page=True)
                page.click("text=← All runs")
                expect(page.locator("#verification-runs tbody tr")).to_have_count(2)
                page.screenshot(path=SHOTS / "audit-verify-runs.png", full_page=True)
            finally:
                with psycopg.connect(live_site.database_url.replace("postgres://", "postgresql://", 1)) as db:
                    db.execute(
                        "UPDATE chain_block SET commit_certificate = %s WHERE height = 1",
                        [Jsonb(certificate)],
                    )

            phone = log_in(
                browser,
                live_site,
                "erc_auditor",
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
            )
            phone.goto(live_site.url + "/audit/trades/")
            expect(phone.locator(f'tr[data-trade="{first}"]')).to_be_attached()
            phone.screenshot(path=SHOTS / "audit-trades-phone.png", full_page=True)
            phone.goto(live_site.url + "/audit/reports/")
            phone.screenshot(path=SHOTS / "audit-reports-phone.png", full_page=True)
            phone.goto(live_site.url + "/audit/verify/")
            phone.screenshot(path=SHOTS / "audit-verify-phone.png", full_page=True)
        finally:
            browser.close()
