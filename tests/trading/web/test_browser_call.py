"""A call auction in two browsers: orders wait with an indicative price, then clear at gate closure.

The site runs one-minute slots with the gate at the slot's start and Bangkok in call
auction, so a call clears within a minute or two of the test placing its orders.
"""

import time
from pathlib import Path
from urllib.parse import quote

import pytest

from chain.management.commands.init import DEMO_PASSWORD
from localnet.genesis_files import DEMO_GENESIS
from localnet.network import start_site, stop_site
from tests.trading.web.test_browser_trade import CHROMIUM_ARGS, DESKTOP, PHONE, SHOTS, place

pytestmark = [pytest.mark.live, pytest.mark.browser]

SLOT_MS = 60_000
#: The least time from now to the chosen slot's start: the orders are placed before it.
LEAD_MS = 25_000
CLEARED = 120_000  # ms: the slot starts within LEAD_MS + SLOT_MS, then a block clears it


def call_genesis(tmp: Path) -> Path:
    """The demo genesis with one-minute slots, the gate at the slot's start, Bangkok in call."""
    text = DEMO_GENESIS.read_text()
    for old, new in (
        ("slot_minutes = 15\n", "slot_minutes = 1\n"),
        ("gate_closure_minutes = 5\n", 'gate_closure_minutes = 0\ncall_auction_zones = ["bangkok"]\n'),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "call_genesis.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def call_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("call_site")
    site, procs = start_site(tmp, genesis=call_genesis(tmp))
    yield site
    stop_site(site, procs)


def open_call_page(browser, site, username: str, slot: int, device: dict):
    page = browser.new_context(**device).new_page()
    path = f"/market/trade/?slot={slot}&zone=bangkok"
    page.goto(f"{site.url}/accounts/login/?next={quote(path, safe='/')}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/market/trade/?slot=*")
    page.wait_for_selector('[data-market-live="on"]', timeout=10_000)
    page.evaluate("window.stillTheSamePage = true")
    return page


def test_orders_wait_in_the_call_and_both_pages_show_it_clear_at_one_price(call_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    now_ms = time.time_ns() // 1_000_000
    slot = (now_ms + LEAD_MS) // SLOT_MS * SLOT_MS + SLOT_MS
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            somchai = open_call_page(browser, call_site, "solar_somchai", slot, DESKTOP)
            malee = open_call_page(browser, call_site, "home_malee", slot, PHONE)
            for page in (somchai, malee):
                expect(page.locator("[data-call]")).to_contain_text("Call auction")
                expect(page.locator("[data-call]")).to_contain_text("nothing would trade")

            place(somchai, energy="2", price="3", side="sell", source="solar")
            place(malee, energy="1", price="5")  # a consumer only buys: no side to pick
            # Crossing, yet waiting: both books show what the call would clear at. The ask is
            # left over in part (1 of its 2 kWh), so the price is the ask's: 3.00, not the bid's 5.
            for page in (somchai, malee):
                expect(page.locator("[data-call] .call-price")).to_have_text("3.00", timeout=15_000)
                expect(page.locator("[data-call]")).to_contain_text("for 1.000 kWh")
            assert malee.locator("#market-trades tr[data-trade]").count() == 0
            somchai.screenshot(path=str(SHOTS / "call_open_desktop.png"), full_page=True)

            # Gate closure: the first block of the slot clears the call; no page reloads.
            for page in (somchai, malee):
                expect(page.locator("[data-call][data-cleared]")).to_be_visible(timeout=CLEARED)
                expect(page.locator("[data-call]")).to_contain_text("Traded: 1.000 kWh; fills: 1.")
                expect(page.locator("[data-call] .call-price")).to_have_text("3.00")
                expect(page.locator("#market-trades tr[data-trade]").first).to_contain_text(
                    "3.00", timeout=15_000
                )
                assert page.evaluate("window.stillTheSamePage") is True
            malee.screenshot(path=str(SHOTS / "call_cleared_phone.png"), full_page=True)
        finally:
            browser.close()
