"""A person's view: two people in two browsers, one pays the other, both wallets update live."""

from pathlib import Path

import pytest

from chain.forms import AMOUNT_TOO_PRECISE, parse_token_amount
from chain.management.commands.init import DEMO_PASSWORD
from chain.templatetags.chain_units import tokens

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def log_in(context, site, username):
    page = context.new_page()
    page.goto(site.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/wallet/")
    # The live socket is up before anything is sent, so no block can be missed.
    page.wait_for_selector("#live-dot.on", timeout=10_000)
    return page


def token_balance(page) -> int:
    text = page.inner_text('[data-balance="tokens"]').replace("GTX", "")
    return parse_token_amount(text)


def test_a_transfer_sent_in_one_browser_shows_in_both_wallets_without_reload(live_site, genesis):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    somchai_address = next(a["address"] for a in genesis.accounts if a["username"] == "solar_somchai")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            malee = log_in(
                browser.new_context(viewport={"width": 1280, "height": 900}), live_site, "home_malee"
            )
            somchai = log_in(
                browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True),
                live_site,
                "solar_somchai",
            )
            malee_before, somchai_before = token_balance(malee), token_balance(somchai)
            explorer = malee.context.new_page()
            explorer.goto(live_site.url + "/explorer/")
            explorer.wait_for_selector("#live-dot.on", timeout=10_000)
            # Every row the explorer adds, kept: the site makes blocks all the time, and the
            # transfer's row may have left the 25 newest by the time it is looked for.
            explorer.evaluate(
                """() => {
                  window.rowsAdded = [];
                  new MutationObserver(changes => changes.forEach(change => change.addedNodes.forEach(
                    node => node.dataset && window.rowsAdded.push(node.dataset.height + " " + node.textContent)
                  ))).observe(document.querySelector("#latest-blocks tbody"), {childList: true});
                }"""
            )
            amount = parse_token_amount("12.5")

            # The form says what is wrong while typing, next to the field.
            malee.fill("#id_transfer-recipient", somchai_address)
            malee.fill("#id_transfer-amount", "0.0000001")
            expect(malee.locator("#err-transfer-amount")).to_have_text(AMOUNT_TOO_PRECISE)
            expect(malee.locator("#id_transfer-amount")).to_have_attribute("aria-invalid", "true")
            malee.screenshot(path=SHOTS / "web-wallet-inline-error.png", full_page=True)

            malee.fill("#id_transfer-amount", "12.5")
            expect(malee.locator("#err-transfer-amount")).to_have_text("")
            malee.fill("#id_transfer-memo", "for the solar panels")
            malee.click("#form-transfer button[type=submit]")
            expect(malee.locator("#form-transfer .flash-success")).to_contain_text("Signed and sent")

            tx_hash = (
                malee.get_attribute("#form-transfer .flash-success a", "href").rstrip("/").rsplit("/", 1)[1]
            )
            status = live_site.wait_for(
                lambda: (
                    (doc := live_site.get(f"/api/v1/transactions/{tx_hash}/").json())["status"] == "committed"
                    and doc
                ),
                timeout=60,
            )
            height = status["block"]["height"]

            # Committed in a block, announced on the WebSocket: both pages refresh themselves.
            expect(malee.locator('[data-balance="tokens"]')).to_contain_text(
                tokens(malee_before - amount), timeout=15_000
            )
            expect(somchai.locator('[data-balance="tokens"]')).to_contain_text(
                tokens(somchai_before + amount), timeout=15_000
            )
            expect(somchai.locator("#wallet-activity")).to_contain_text("Received")
            expect(malee.locator("#wallet-activity .history")).to_contain_text("−12.50")
            malee.screenshot(path=SHOTS / "web-wallet-malee.png", full_page=True)
            somchai.screenshot(path=SHOTS / "web-wallet-somchai-phone.png", full_page=True)

            expect(malee.locator("#hint-transfer")).to_contain_text(tokens(malee_before - amount))
            tx_link = malee.locator("#form-transfer .flash-success a")
            tx_link.click()
            expect(malee.locator(".status-banner")).to_contain_text("Committed")
            malee.screenshot(path=SHOTS / "web-transaction.png", full_page=True)
            malee.goto(live_site.url + "/")
            malee.screenshot(path=SHOTS / "web-home.png", full_page=True)

            # The explorer opened before the transfer got the new block's row over the WebSocket.
            explorer.wait_for_function(
                "h => window.rowsAdded.some(row => row.startsWith(h + ' ') && row.includes('#' + h))",
                arg=height,
            )
            explorer.screenshot(path=SHOTS / "web-explorer.png", full_page=True)
            explorer.locator("#latest-blocks tbody tr a").first.click()
            expect(explorer.locator("text=✓ valid").first).to_be_visible()
            explorer.screenshot(path=SHOTS / "web-block.png", full_page=True)
        finally:
            browser.close()
