"""A person signs up, tops up (confirmed automatically under the demo settings) and sees the tokens arrive;
then cashes out, and sees the issuer's staff pay it."""

import secrets
import time
from pathlib import Path

import pytest

from chain.forms import parse_token_amount
from chain.management.commands.init import DEMO_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
LIVE = 15_000  # ms: generous, a block is 300 ms on the test site


def test_a_newcomer_signs_up_tops_up_and_sees_the_tokens_arrive_without_reload(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    username = f"newcomer_{secrets.token_hex(3)}"
    password = "sun-on-the-roof-42"
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**DESKTOP).new_page()
            page.goto(live_site.url + "/accounts/signup/")
            page.fill("#id_username", username)
            page.fill("#id_password1", password)
            page.fill("#id_password2", password)
            page.check('input[name="role"][value="consumer"]')
            page.select_option("#id_region", "bangkok")
            page.click("main form button[type=submit]")
            page.wait_for_url("**/wallet/")
            # An empty wallet says, in words, what to do next.
            expect(page.locator("#empty-wallet")).to_contain_text("Top up your wallet")
            page.screenshot(path=str(SHOTS / "treasury-empty-wallet.png"), full_page=True)
            page.click("#empty-wallet a[role=button]")
            page.wait_for_url("**/treasury/")
            page.wait_for_selector("#live-dot.on", timeout=10_000)
            page.fill("#form-topup input[name=amount]", "250")
            page.click("#form-topup button[type=submit]")
            page.wait_for_url("**/treasury/")
            page.evaluate("window.stillTheSamePage = true")
            expect(page.locator(".flash-success")).to_contain_text("confirmed")
            # The mint lands in the next block and the page shows it without a reload.
            expect(page.locator("#topup-list")).to_contain_text("credited", timeout=LIVE)
            expect(page.locator('#treasury-status [data-balance="tokens"]')).to_contain_text(
                "250.00", timeout=LIVE
            )
            assert page.evaluate("window.stillTheSamePage") is True
            shown = page.inner_text('#treasury-status [data-balance="tokens"]').replace("GTX", "")
            assert parse_token_amount(shown) == 250_000_000
            page.screenshot(path=str(SHOTS / "treasury-topped-up.png"), full_page=True)
            page.goto(live_site.url + "/wallet/")
            expect(page.locator("#empty-wallet")).to_have_count(0)
            expect(page.locator("#wallet-activity")).to_contain_text("Top-up TU")
            assert time.monotonic() - started < 60

            # Cash-out: escrowed at once, then the issuer's staff pay it and the page says so live.
            page.goto(live_site.url + "/treasury/")
            page.wait_for_selector("#live-dot.on", timeout=10_000)
            page.fill("#form-cashout input[name=amount]", "100")
            page.click("#form-cashout button[type=submit]")
            page.wait_for_url("**/treasury/")
            expect(page.locator("#cashout-list")).to_contain_text("in escrow", timeout=LIVE)
            expect(page.locator('#treasury-status [data-balance="tokens"]')).to_contain_text(
                "150.00", timeout=LIVE
            )
            page.wait_for_selector("#live-dot.on", timeout=10_000)
            page.evaluate("window.stillTheSamePage = true")

            staff = browser.new_context(**DESKTOP).new_page()
            staff.goto(live_site.url + "/accounts/login/?next=/treasury/issuer/")
            staff.fill("#id_username", "admin")
            staff.fill("#id_password", DEMO_PASSWORD)
            staff.click("main form button[type=submit]")
            staff.wait_for_url("**/treasury/issuer/")
            expect(staff.locator("#cashout-queue")).to_contain_text("100.00")
            staff.screenshot(path=str(SHOTS / "treasury-issuer-queue.png"), full_page=True)
            staff.click("#cashout-queue button:has-text('Paid out: burn')")
            staff.wait_for_url("**/treasury/issuer/")
            expect(staff.locator(".flash-success")).to_contain_text("Paid")

            expect(page.locator("#cashout-list")).to_contain_text("paid", timeout=LIVE)
            assert page.evaluate("window.stillTheSamePage") is True
            shown = page.inner_text('#treasury-status [data-balance="tokens"]').replace("GTX", "")
            assert parse_token_amount(shown) == 150_000_000
            page.screenshot(path=str(SHOTS / "treasury-cashed-out.png"), full_page=True)
        finally:
            browser.close()
