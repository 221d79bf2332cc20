"""A person watches the grid dashboard: the frequency moves without a reload, the alarm shows."""

import re
import time
from pathlib import Path

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.management.commands.init import DEMO_PASSWORD
from tests.grid.harness import report

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[3] / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: MEA: an authority of the demo genesis, and not the site's own node key (no nonce to share).
REPORTER = "MEA"


class Reporter:
    def __init__(self, site):
        self.site = site
        self.key = demo_key(REPORTER)
        self.address = address_of(self.key)
        self.chain_id = site.get("/api/v1/status/").json()["chain_id"]
        self.nonce = site.get(f"/api/v1/accounts/{self.address}/").json()["nonce"]

    def send(self, frequency_mhz: int, **figures) -> str:
        """Report every region at ``frequency_mhz``; returns once the report is committed."""
        payload = report(time.time_ns() // 1_000_000 - 200, frequency_mhz=frequency_mhz, **figures)
        tx = sign_transaction(
            self.key, chain_id=self.chain_id, nonce=self.nonce, kind="grid_report", payload=payload
        )
        self.nonce += 1
        response = self.site.post("/api/v1/transactions/", json=tx.to_wire())
        assert response.status_code == 202, response.text
        self.site.wait_for(
            lambda: self.site.get(f"/api/v1/transactions/{tx.hash}/").json()["status"] == "committed",
            timeout=30,
        )
        return tx.hash


def test_the_dashboard_follows_the_frequency_live(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    reporter = Reporter(live_site)
    reporter.send(50_004)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(live_site.url + "/grid/")
            page.wait_for_selector("#grid-live.on", timeout=30_000)
            cell = page.locator('tr[data-region="bangkok"] [data-figure="frequency_mhz"]')
            expect(cell).to_have_text("50.004", timeout=15_000)
            points = page.evaluate("Chart.getChart('frequency-chart').data.labels.length")

            for i, freq in enumerate((50_031, 49_962, 50_018, 49_987, 50_012)):
                reporter.send(freq, load_kw=7_000_000 + i * 50_000)
                expect(cell).to_have_text(f"{freq // 1000}.{freq % 1000:03d}", timeout=15_000)  # no reload
            assert page.evaluate("Chart.getChart('frequency-chart').data.labels.length") == points + 5
            expect(page.locator('[data-grid-stat="frequency"]')).to_have_text("50.012", timeout=15_000)
            page.screenshot(path=SHOTS / "grid-dashboard.png", full_page=True)

            # Out of the band: the alarm shows and the paths say paused, still without a reload.
            reporter.send(49_380)
            expect(page.locator(".grid-alarm")).to_contain_text("Frequency out of band", timeout=15_000)
            expect(cell).to_have_class("num off-band", timeout=15_000)
            expect(page.locator('tr[data-path="bangkok:east"]')).to_contain_text("paused", timeout=15_000)
            expect(page.locator('line[data-map-path="bangkok:east"]')).to_have_class(
                re.compile("map-line-blocked"), timeout=15_000
            )
            page.screenshot(path=SHOTS / "grid-dashboard-alarm.png", full_page=True)
            reporter.send(50_001)
            expect(page.locator(".grid-alarm")).to_have_count(0, timeout=15_000)

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            mobile = phone.new_page()
            mobile.goto(live_site.url + "/grid/")
            mobile.wait_for_selector("#grid-live.on", timeout=30_000)
            mobile.screenshot(path=SHOTS / "grid-dashboard-phone.png", full_page=True)
            mobile.goto(live_site.url + "/grid/regions/northeast/")
            mobile.wait_for_selector("#grid-live.on", timeout=30_000)
            reporter.send(50_020, load_kw=7_777_000)
            expect(mobile.locator('.grid-stats [data-figure="frequency_mhz"]')).to_have_text(
                "50.020", timeout=15_000
            )
            # The per-minute history follows too: its last point is this report's load.
            last_load = "Chart.getChart('region-history-chart').data.datasets[0].data.at(-1)"
            assert mobile.evaluate(last_load) == 7777
            mobile.screenshot(path=SHOTS / "grid-region-phone.png", full_page=True)
        finally:
            browser.close()


def test_staff_on_the_operators_site_limit_a_path_in_the_browser(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(live_site.url + "/accounts/login/?next=/grid/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", DEMO_PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url("**/grid/")
            page.wait_for_selector("#grid-live.on", timeout=30_000)
            form = page.locator(".operator-form")
            # A slot far ahead and only that one: other tests on this site trade the near slots.
            options = form.locator("#id_from_slot option")
            far = options.nth(options.count() - 2).get_attribute("value")
            until = options.nth(options.count() - 1).get_attribute("value")
            form.locator("#id_path").select_option("bangkok:east")
            form.locator("#id_from_slot").select_option(far)
            form.locator("#id_until_slot").select_option(until)
            form.locator("input[name=action][value=congested]").check()
            form.locator("#id_reason").fill("line maintenance")
            form.screenshot(path=SHOTS / "grid-operator-form.png")
            form.locator("button[type=submit]").click()
            expect(page.locator(".flash-success")).to_contain_text("Path limit signed and sent")
            # Committed, announced on ws/grid/: the paths part refreshes itself with the limit.
            live_site.wait_for(
                lambda: any(
                    p["limit"] and p["limit"]["from_slot_ms"] == int(far)
                    for p in live_site.get("/api/v1/grid/paths/").json()
                ),
                timeout=30,
            )
            row = page.locator('tr[data-path="bangkok:east"]')
            expect(row).to_contain_text("congested from", timeout=15_000)
            page.screenshot(path=SHOTS / "grid-dashboard-staff.png", full_page=True)
        finally:
            browser.close()
