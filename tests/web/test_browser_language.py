"""A person on a phone switches the site to Thai and reads their wallet in Thai."""

from pathlib import Path

import pytest

from chain.management.commands.init import DEMO_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_a_phone_switches_to_thai_and_the_wallet_stays_thai(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.goto(live_site.url + "/accounts/login/")
            page.fill("#id_username", "home_malee")
            page.fill("#id_password", DEMO_PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url("**/wallet/")
            expect(page.locator("h1")).to_contain_text("Your wallet")

            expect(page.locator(".language-switch button[value=th]")).to_have_text("ภาษาไทย")
            page.click(".language-switch button[value=th]")
            page.wait_for_url("**/wallet/")
            expect(page.locator("html")).to_have_attribute("lang", "th")
            expect(page.locator("h1")).to_contain_text("กระเป๋าเงินของคุณ")
            expect(page.locator(".stat-primary .stat-label")).to_have_text("โทเค็น")
            expect(page.locator("#form-transfer button[type=submit]")).to_have_text("ลงนามและส่ง")
            expect(page.locator(".language-switch button[value=th]")).to_be_disabled()
            expect(page.locator(".language-switch button[value=en]")).to_have_text("English")
            # What the scripts write is Thai too (the JavaScript catalog): the live dot once connected.
            expect(page.locator("#live-dot")).to_have_attribute("title", "อัปเดตสด: เชื่อมต่อแล้ว", timeout=15_000)
            page.screenshot(path=SHOTS / "web-wallet-thai-phone.png", full_page=True)

            # The genesis's region names are Thai too (chain.selectors.region_name).
            page.goto(live_site.url + "/grid/")
            expect(page.locator("main")).to_contain_text("กรุงเทพมหานครและปริมณฑล")
            expect(page.locator("main")).not_to_contain_text("Bangkok Metropolitan")
            page.screenshot(path=SHOTS / "web-grid-thai-phone.png", full_page=True)

            # The choice is the cookie's: a new page in the same browser is Thai too.
            page.goto(live_site.url + "/")
            expect(page.locator("h1")).to_contain_text("ขายแสงแดดบนหลังคาของคุณ")

            page.click(".language-switch button[value=en]")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("h1")).to_contain_text("Sell the sun")
        finally:
            browser.close()
