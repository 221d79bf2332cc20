"""A person's view of meters on a real site: staff register one in the browser, its readings
arrive over REST, the owner sees the meter and its minted energy; desktop and phone screenshots."""

import time
import uuid
from pathlib import Path

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.management.commands.init import DEMO_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path("/tmp/gtx-meters-shots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MINUTE_MS = 60_000


def log_in(browser, site, username, **context):
    page = browser.new_context(**context).new_page()
    page.goto(site.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    return page


def submit(site, path, tx) -> None:
    response = site.post(path, json=tx.to_wire())
    assert response.status_code == 202, response.text


def next_nonce(site, address: str) -> int:
    return site.get(f"/api/v1/accounts/{address}/").json()["next_nonce"]


def test_staff_register_a_meter_and_its_owner_sees_it_with_its_readings(live_site, genesis):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    meter_key = demo_key(f"meter/browser/{uuid.uuid4().hex}")
    meter = address_of(meter_key)
    chain_id = live_site.status()["chain_id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            admin = log_in(browser, live_site, "admin", viewport={"width": 1280, "height": 900})
            admin.goto(live_site.url + "/meters/register/")
            admin.fill("#id_meter", "not-a-key")
            admin.fill("#id_owner", "solar_somchai")
            admin.select_option("#id_region", "bangkok")
            admin.select_option("#id_kind", "solar")
            admin.fill("#id_rated_capacity_w", "6000")
            admin.click("main form button[type=submit]")
            expect(admin.locator("main")).to_contain_text("64 lowercase hex")
            admin.screenshot(path=SHOTS / "meters-register-error.png", full_page=True)
            admin.fill("#id_meter", meter)
            admin.click("main form button[type=submit]")
            expect(admin.locator("main")).to_contain_text("waiting for the next block")
            live_site.wait_for(
                lambda: live_site.get(f"/api/v1/meters/{meter}/").status_code == 200, timeout=60
            )

            # The meter reports its last minute over REST, signed with its own key.
            end = time.time_ns() // 1_000_000 // MINUTE_MS * MINUTE_MS
            payload = {
                "window_start_ms": end - MINUTE_MS,
                "window_end_ms": end,
                "import_wh": 0,
                "export_wh": 75,
            }
            reading = sign_transaction(
                meter_key, chain_id=chain_id, nonce=0, kind="meter_reading", payload=payload
            )
            submit(live_site, "/api/v1/meters/readings/", reading)
            live_site.wait_for(
                lambda: live_site.get(f"/api/v1/meters/{meter}/").json()["minted_wh_total"] == 75, timeout=120
            )

            admin.goto(live_site.url + "/meters/")
            expect(admin.locator(f'tr[data-meter="{meter}"]')).to_contain_text("solar_somchai")
            admin.screenshot(path=SHOTS / "meters-staff.png", full_page=True)

            owner = log_in(
                browser,
                live_site,
                "solar_somchai",
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
            )
            owner.click("text=My meters")
            row = owner.locator(f'tr[data-meter="{meter}"]')
            expect(row).to_contain_text("0.075")
            expect(owner.locator("h1")).to_have_text("My meters")
            owner.screenshot(path=SHOTS / "meters-owner-phone.png", full_page=True)
            row.locator("a").click()
            expect(owner.locator(".readings-table")).to_contain_text("+0.075")
            expect(owner.locator(".fields")).to_contain_text("by EGAT")
            owner.screenshot(path=SHOTS / "meter-owner-phone.png", full_page=True)

            malee = log_in(browser, live_site, "home_malee", viewport={"width": 1280, "height": 900})
            malee.goto(live_site.url + "/meters/")
            expect(malee.locator(f'tr[data-meter="{meter}"]')).to_have_count(0)
            assert malee.goto(live_site.url + f"/meters/{meter}/").status == 404
        finally:
            browser.close()
