"""Issue 15 across two real sites, EGAT's (the grid operator and token issuer) and MEA's (Bangkok's
utility, not an issuer), each with its own database, daphne and workers, in one network:

- a newcomer signed up at MEA's site tops up: MEA's site asks the issuer on chain, EGAT's staff
  confirm it in their queue, and the newcomer's page at MEA's site shows the tokens credited;
- a Bangkok producer asks MEA's site for a meter; MEA's staff approve it (MEA's meter_register)
  and the producer's page shows it registered in a block; EGAT's staff cannot decide it.
"""

import secrets
from pathlib import Path

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.management.commands.init import DEMO_PASSWORD
from localnet.network import start_network, stop_network

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
LIVE = 30_000  # ms: generous, two sites decide each block
NEW_METER = address_of(demo_key("meter/two-sites-roof"))


@pytest.fixture(scope="module")
def egat_and_mea(tmp_path_factory):
    # EGAT's staff answer asked top-ups here: the demo's automatic confirmation (which
    # tests/site/test_follower.py covers) would mint them first.
    sites = start_network(
        tmp_path_factory.mktemp("two_sites"),
        ["EGAT", "MEA"],
        extra_env={"GTX_TOPUP_AUTO_CONFIRM_TOKENS": "0"},
    )
    yield sites
    stop_network(sites)


def log_in(browser, site, username: str, password: str, path: str):
    page = browser.new_context(**DESKTOP).new_page()
    page.goto(f"{site.url}/accounts/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{path}")
    return page


def sign_up(browser, site, username: str, password: str):
    """A new Bangkok consumer signs up at ``site`` in a desktop page; returns it at the wallet."""
    page = browser.new_context(**DESKTOP).new_page()
    page.goto(site.url + "/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.check('input[name="role"][value="consumer"]')
    page.select_option("#id_region", "bangkok")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/wallet/")
    return page


def test_a_topup_asked_at_meas_site_is_confirmed_by_egats_staff(egat_and_mea):
    from playwright.sync_api import expect, sync_playwright

    egat, mea = egat_and_mea
    SHOTS.mkdir(exist_ok=True)
    username, password = f"newcomer_{secrets.token_hex(3)}", "sun-on-the-roof-42"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = sign_up(browser, mea, username, password)
            page.goto(mea.url + "/treasury/")
            page.fill("#form-topup input[name=amount]", "75")
            page.click("#form-topup button[type=submit]")
            page.wait_for_url("**/treasury/")
            expect(page.locator(".flash-success")).to_contain_text("asked the issuer on chain")
            expect(page.locator("#topup-list")).to_contain_text("asked on chain", timeout=LIVE)
            reference = page.locator("#topup-list td.mono").first.inner_text()
            page.screenshot(path=str(SHOTS / "treasury-topup-asked-at-mea.png"), full_page=True)

            staff = log_in(browser, egat, "admin", DEMO_PASSWORD, "/treasury/issuer/")
            row = staff.locator(f'#topup-asked-queue tr[data-reference="{reference}"]')
            expect(row).to_contain_text("MEA")
            expect(row).to_contain_text("75.00")
            staff.screenshot(path=str(SHOTS / "treasury-issuer-queue-asked.png"), full_page=True)
            row.locator("button:has-text('Payment received: mint')").click()
            staff.wait_for_url("**/treasury/issuer/")
            expect(staff.locator(".flash-success")).to_contain_text("Confirmed")

            # The mint is a block every site applies: the newcomer's page at MEA's site shows it live.
            expect(page.locator("#topup-list")).to_contain_text("credited", timeout=LIVE)
            expect(page.locator('#treasury-status [data-balance="tokens"]')).to_contain_text(
                "75.00", timeout=LIVE
            )
            page.screenshot(path=str(SHOTS / "treasury-topup-credited-at-mea.png"), full_page=True)
        finally:
            browser.close()


def test_a_producer_asks_meas_site_for_a_meter_and_meas_staff_register_it(egat_and_mea):
    from playwright.sync_api import expect, sync_playwright

    egat, mea = egat_and_mea
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            producer = log_in(browser, mea, "solar_somchai", DEMO_PASSWORD, "/meters/")
            producer.click("a:has-text('Request a meter')")
            producer.wait_for_url("**/meters/requests/")
            producer.fill("#id_device_key", NEW_METER.upper())  # not the canonical form: refused
            producer.fill("#id_rated_capacity_w", "5000")
            producer.select_option("#id_kind", "solar")
            producer.select_option("#id_region", "bangkok")
            producer.click("#form-meter-request button[type=submit]")
            expect(producer.locator("#err-device_key")).to_contain_text("64 lowercase hex")
            producer.screenshot(path=str(SHOTS / "meter-request-refused-key.png"), full_page=True)
            producer.fill("#id_device_key", NEW_METER)
            producer.click("#form-meter-request button[type=submit]")
            producer.wait_for_url("**/meters/requests/")
            expect(producer.locator("#meter-request-list")).to_contain_text("requested")
            producer.screenshot(path=str(SHOTS / "meter-request-requested.png"), full_page=True)

            # EGAT's staff read requests of their own site only, and decide none: EGAT is no utility.
            egat_staff = log_in(browser, egat, "admin", DEMO_PASSWORD, "/meters/requests/queue/")
            expect(egat_staff.locator("h1")).to_contain_text("read-only")

            staff = log_in(browser, mea, "admin", DEMO_PASSWORD, "/meters/requests/queue/")
            expect(staff.locator("#meter-request-queue")).to_contain_text("solar_somchai")
            staff.screenshot(path=str(SHOTS / "meter-request-queue.png"), full_page=True)
            staff.click("#meter-request-queue button:has-text('Approve: register')")
            staff.wait_for_url("**/meters/requests/queue/")
            expect(staff.locator(".flash-success")).to_contain_text("Approved")

            # The producer's list asks again while something is awaited: it ends registered.
            expect(producer.locator("#meter-request-list")).to_contain_text("registered", timeout=LIVE)
            producer.screenshot(path=str(SHOTS / "meter-request-registered.png"), full_page=True)
            staff.goto(mea.url + "/meters/requests/queue/")
            expect(staff.locator("#meter-request-decided")).to_contain_text("registered")
            staff.screenshot(path=str(SHOTS / "meter-request-decided.png"), full_page=True)
            # Every site applied MEA's registration.
            meter = egat.get(f"/api/v1/meters/{NEW_METER}/").json()
            assert (meter["owner"], meter["registered_by"]) == (
                address_of(demo_key("solar_somchai")),
                address_of(demo_key("MEA")),
            )
        finally:
            browser.close()
