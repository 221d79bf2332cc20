"""Issue 18 fault 4 and the activity feed, in chromium: what a person signs shows pending, then
included (or failed with the reason) without a reload, with a notification; a fill shows in
the feed with what it paid or earned. Desktop and phone viewports; screenshots in test-output/."""

from contextlib import contextmanager

import pytest

from tests.trading.web.test_browser_trade import (
    CHROMIUM_ARGS,
    DESKTOP,
    LIVE,
    PHONE,
    SHOTS,
    open_trading_page,
    place,
)
from tests.web.test_browser_wallet import log_in

pytestmark = [pytest.mark.live, pytest.mark.browser]


@contextmanager
def consensus_paused(site):
    """The site's consensus worker stopped (SIGSTOP), so what is signed meanwhile stays pending;
    it resumes (SIGCONT) on leaving, and the blocks follow."""
    import psutil

    worker = next(
        child
        for proc in site.procs
        for child in psutil.Process(proc.pid).children(recursive=True)
        if "--pool" in child.cmdline() and "solo" in child.cmdline()
    )
    worker.suspend()
    try:
        yield
    finally:
        worker.resume()


def test_a_signed_transfer_shows_pending_then_included_live_and_a_failed_cancel_its_reason(
    live_site, genesis
):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    somchai_address = next(a["address"] for a in genesis.accounts if a["username"] == "solar_somchai")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            malee = log_in(browser.new_context(**DESKTOP), live_site, "home_malee")

            # Pending: no block can include it while consensus is stopped.
            with consensus_paused(live_site):
                malee.fill("#id_transfer-recipient", somchai_address)
                malee.fill("#id_transfer-amount", "1.25")
                malee.click("#form-transfer button[type=submit]")
                expect(malee.locator("#form-transfer .flash-success")).to_contain_text("Signed and sent")
                tx_hash = (
                    malee.get_attribute("#form-transfer .flash-success a", "href")
                    .rstrip("/")
                    .rsplit("/", 1)[1]
                )
                row = malee.locator(f'#wallet-activity tr[data-tx="{tx_hash}"]')
                expect(row).to_have_attribute("data-tx-state", "pending", timeout=LIVE)
                expect(malee.locator("#activity-tray [data-waiting]")).to_have_text("1", timeout=LIVE)
                pending_toast = malee.locator(f'#toasts .toast[data-tx="{tx_hash}"][data-tx-state="pending"]')
                expect(pending_toast).to_contain_text("Transfer signed and sent: pending", timeout=LIVE)
                malee.screenshot(path=SHOTS / "web-activity-pending.png", full_page=False)

            # Included, told live: the row, the tray and a notification, without a reload.
            malee.evaluate("window.stillTheSamePage = true")
            expect(row).to_have_attribute("data-tx-state", "included", timeout=LIVE)
            height = int(row.locator("a[href^='/explorer/block/']").first.inner_text().split("#")[1])
            included_toast = malee.locator(f'#toasts .toast[data-tx="{tx_hash}"][data-tx-state="included"]')
            expect(included_toast).to_contain_text(f"Transfer included in block #{height}", timeout=LIVE)
            expect(malee.locator("#activity-tray [data-waiting]")).to_have_count(0)
            assert malee.evaluate("window.stillTheSamePage === true")
            malee.screenshot(path=SHOTS / "web-activity-included.png", full_page=False)
            malee.context.close()

            # Failed with its reason: two tabs cancel one order while no block comes; the block
            # takes the first cancel, the second fails there.
            first = open_trading_page(browser, live_site, "home_malee", DESKTOP)
            place(first, energy="1", price="1.1")
            order_row = first.locator("#market-mine tr[data-order]:has(.cancel-order)").first
            expect(order_row).to_be_visible(timeout=LIVE)
            order_id = order_row.get_attribute("data-order")
            second = first.context.new_page()
            second.goto(first.url)
            second.wait_for_selector("#live-dot.on", timeout=LIVE)
            with consensus_paused(live_site):
                first.click(f'#market-mine tr[data-order="{order_id}"] .cancel-order')
                expect(first.locator(f'#market-mine tr[data-order="{order_id}"]')).to_contain_text(
                    "cancelling"
                )
                second.click(f'#market-mine tr[data-order="{order_id}"] .cancel-order')
                # Both cancels wait: the first tab's and this one's.
                expect(second.locator('#toasts .toast[data-tx-state="pending"]')).to_have_count(
                    2, timeout=LIVE
                )
                expect(second.locator('#toasts .toast[data-tx-state="pending"]').first).to_contain_text(
                    "Order cancel signed and sent", timeout=LIVE
                )
            failed = second.locator('#toasts .toast[data-tx-state="failed"]')
            expect(failed).to_contain_text("Order cancel failed in block #", timeout=LIVE)
            expect(failed).to_contain_text("The order is already cancelled.")
            second.screenshot(path=SHOTS / "web-activity-failed-toast.png", full_page=False)
            second.goto(live_site.url + "/activity/")
            failed_row = second.locator('#activity-transactions tr[data-tx-state="failed"]').first
            expect(failed_row).to_contain_text("The order is already cancelled.")
            expect(
                second.locator('#activity-transactions tr[data-tx-state="included"]').first
            ).to_be_visible()
            expect(second.locator("#activity-feed")).to_contain_text("Buy order cancelled")
            second.screenshot(path=SHOTS / "web-activity-page.png", full_page=True)
        finally:
            browser.close()


def test_a_fill_shows_in_the_sellers_feed_live_on_a_phone(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            somchai = open_trading_page(browser, live_site, "solar_somchai", PHONE)
            malee = open_trading_page(browser, live_site, "home_malee", DESKTOP)
            feed = somchai.context.new_page()
            feed.goto(live_site.url + "/activity/")
            feed.wait_for_selector("#live-dot.on", timeout=LIVE)

            place(somchai, energy="1", price="1.2", side="sell", source="solar")
            expect(somchai.locator("#market-mine tr[data-order]:has(.cancel-order)").first).to_be_visible(
                timeout=LIVE
            )
            place(malee, energy="1", price="1.3")

            # The seller's open feed page gets the fill and a notification, live.
            sold = feed.locator('#activity-feed tr[data-event="trade"]').first
            expect(sold).to_contain_text("Sold 1.000 kWh at 1.20 GTX/kWh", timeout=LIVE)
            expect(sold.locator(".amount-held")).to_contain_text("1.20")
            expect(feed.locator("#toasts .toast[data-event-id]").first).to_contain_text(
                "Sold 1.000 kWh", timeout=LIVE
            )
            expect(feed.locator("#activity-tray .tray-bell")).to_be_visible()
            feed.screenshot(path=SHOTS / "web-activity-feed-phone.png", full_page=True)

            malee.goto(live_site.url + "/wallet/")
            expect(malee.locator('#wallet-activity tr[data-event="trade"]').first).to_contain_text(
                "Bought 1.000 kWh at 1.20 GTX/kWh: paid 1.20 GTX"
            )
            malee.screenshot(path=SHOTS / "web-activity-wallet-desktop.png", full_page=True)
        finally:
            browser.close()
