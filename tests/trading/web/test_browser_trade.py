"""Two people, two browsers: a producer sells, a consumer buys, both pages show the trade live."""

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from chain.forms import parse_token_amount
from chain.management.commands.init import DEMO_PASSWORD
from chain.templatetags.chain_units import kwh, tokens
from trading.forms import ENERGY_TOO_PRECISE, parse_kwh, parse_price
from trading.ledger.rules import value_units

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[3] / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LIVE = 15_000  # ms: generous, a block is 300 ms on the test site


def open_trading_page(browser, site, username: str, device: dict):
    """Logged in, on the trading page of the second open slot (its gate is 15+ minutes away)."""
    page = browser.new_context(**device).new_page()
    page.goto(site.url + "/accounts/login/?next=/market/trade/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/market/trade/")
    page.locator(".chips a[data-slot]").nth(1).click()
    page.wait_for_url("**/market/trade/?slot=*")
    # Both sockets are up before anything is sent, so no block can be missed.
    page.wait_for_selector('[data-market-live="on"]', timeout=10_000)
    page.wait_for_selector("#live-dot.on", timeout=10_000)
    page.evaluate("window.stillTheSamePage = true")
    return page


def balances(page) -> tuple[int, int]:
    """(free tokens in units, free energy in Wh) as the page shows them."""
    shown_tokens = page.inner_text('[data-balance="tokens"]').replace("GTX", "")
    shown_kwh = page.inner_text('[data-balance="energy"]').replace("kWh", "")
    return parse_token_amount(shown_tokens), parse_kwh(shown_kwh) if shown_kwh.strip("0. \n") else 0


def escrow(page) -> tuple[int, int]:
    """(escrowed tokens in units, escrowed energy in Wh) as the page shows them."""
    shown_tokens = page.inner_text('[data-balance="escrow-tokens"]').replace("GTX", "")
    shown_kwh = page.inner_text('[data-balance="escrow-energy"]').replace("kWh", "")
    escrowed_tokens = parse_token_amount(shown_tokens) if shown_tokens.strip("0. \n") else 0
    return escrowed_tokens, parse_kwh(shown_kwh) if shown_kwh.strip("0. \n") else 0


def place(page, *, energy: str, price: str, side: str | None = None, source: str | None = None):
    if side:
        page.check(f'input[name="order-side"][value="{side}"]')
    if source:
        page.select_option("#id_order-source", source)
    page.fill("#id_order-energy_kwh", energy)
    page.fill("#id_order-price", price)
    page.click("#order-ticket button[type=submit]")


def test_a_sell_and_a_crossing_buy_trade_and_both_pages_show_it_without_reload(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    energy, sell_price, buy_price = "2.5", "3.5", "4"
    energy_wh = parse_kwh(energy)
    # Same zone (both in Bangkok): no wheeling fee. The sell rests first, so the trade takes its price.
    paid = value_units(energy_wh, parse_price(sell_price))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            somchai = open_trading_page(browser, live_site, "solar_somchai", DESKTOP)
            malee = open_trading_page(browser, live_site, "home_malee", PHONE)
            assert somchai.url == malee.url, "both look at the same slot and zone"
            somchai_before, malee_before = balances(somchai), balances(malee)
            somchai_escrow, malee_escrow = escrow(somchai), escrow(malee)

            # The ticket says what is wrong while typing, beside the field.
            somchai.fill("#id_order-energy_kwh", "2.0005")
            expect(somchai.locator("#err-order-energy_kwh")).to_have_text(ENERGY_TOO_PRECISE)
            expect(somchai.locator("#id_order-energy_kwh")).to_have_attribute("aria-invalid", "true")

            place(somchai, energy=energy, price=sell_price, side="sell", source="solar")
            expect(somchai.locator("#order-ticket .flash-success")).to_contain_text("Signed and sent")

            # The ask reaches both books with its block, and the producer's own list.
            for page in (somchai, malee):
                expect(page.locator("#market-book .book-row.ask")).to_contain_text(
                    kwh(energy_wh), timeout=LIVE
                )
            expect(somchai.locator("#market-mine tr[data-order]")).to_contain_text(
                tokens(parse_price(sell_price))
            )
            expect(somchai.locator("#market-mine .cancel-order")).to_be_visible(timeout=LIVE)
            # The depth chart redraws with the book: the ask is its one step, at its price and size.
            asks = "Chart.getChart(document.getElementById('depth-chart')).data.datasets[1].data"
            somchai.wait_for_function(f"{asks}.length === 1", timeout=LIVE)
            assert somchai.evaluate(f"{asks}[0]") == {"x": float(sell_price), "y": energy_wh / 1000}
            somchai.screenshot(path=SHOTS / "market-trade-resting-sell.png", full_page=True)

            # Before signing, the ticket says what will be signed and escrowed.
            malee.fill("#id_order-energy_kwh", energy)
            malee.fill("#id_order-price", buy_price)
            expect(malee.locator('#ticket-summary [data-summary="total"]')).to_have_text(
                tokens(value_units(energy_wh, parse_price(buy_price))) + " GTX", timeout=LIVE
            )
            expect(malee.locator('#ticket-summary [data-summary="escrow-tokens"]')).to_be_visible()
            malee.screenshot(path=SHOTS / "market-ticket-summary-phone.png", full_page=True)
            place(malee, energy=energy, price=buy_price)
            expect(malee.locator("#order-ticket .flash-success")).to_contain_text("Signed and sent")

            for page in (somchai, malee):
                trade = page.locator("#market-trades tr[data-trade]").first
                expect(trade).to_contain_text(tokens(parse_price(sell_price)), timeout=LIVE)
                expect(trade).to_contain_text(kwh(energy_wh))
                expect(page.locator("#market-fills tr[data-trade]").first).to_contain_text(kwh(energy_wh))
                expect(page.locator("#market-book .book-asks")).to_contain_text("No sell orders")
                expect(page.locator('[data-figure="last-price"]')).to_have_text(
                    tokens(parse_price(sell_price))
                )

            # A fill is a contract for delivery: the seller's proceeds and the buyer's kWh wait in
            # escrow until the slot is settled against the seller's meters (docs/METERS.md).
            expect(somchai.locator('[data-balance="escrow-tokens"]')).to_contain_text(
                tokens(somchai_escrow[0] + paid), timeout=LIVE
            )
            expect(malee.locator('[data-balance="tokens"]')).to_contain_text(
                tokens(malee_before[0] - paid), timeout=LIVE
            )
            assert balances(somchai) == (somchai_before[0], somchai_before[1] - energy_wh)
            assert balances(malee) == (malee_before[0] - paid, malee_before[1])
            assert escrow(somchai) == (somchai_escrow[0] + paid, somchai_escrow[1])
            assert escrow(malee) == (malee_escrow[0], malee_escrow[1] + energy_wh)
            for page in (somchai, malee):
                assert page.evaluate("window.stillTheSamePage") is True

            # The sale is held until the slot is settled against the seller's meters, not earned yet.
            expect(somchai.locator("#market-fills tr[data-trade]").first).to_contain_text("held")
            somchai.screenshot(path=SHOTS / "market-trade-producer.png", full_page=True)
            malee.screenshot(path=SHOTS / "market-trade-consumer-phone.png", full_page=True)

            auditor = open_trading_page(browser, live_site, "erc_auditor", DESKTOP)
            expect(auditor.locator("#market-trades tr[data-trade]").first).to_contain_text(kwh(energy_wh))
            expect(auditor.locator("#order-ticket")).to_have_count(0)
            auditor.screenshot(path=SHOTS / "market-trade-regulator.png", full_page=True)

            overview = somchai.context.new_page()
            overview.goto(live_site.url + "/market/")
            expect(overview.locator(".zone-card[data-zone=bangkok]")).to_contain_text(
                tokens(parse_price(sell_price))
            )
            overview.screenshot(path=SHOTS / "market-overview.png", full_page=True)
            malee.goto(live_site.url + "/market/")
            malee.screenshot(path=SHOTS / "market-overview-phone.png", full_page=True)
        finally:
            browser.close()


def test_a_north_sell_fills_a_bangkok_buy_over_two_paths_and_the_statement_adds_it_up(live_site):
    """hydro_nan sells in the North; home_malee in Bangkok sees the ask with its route and delivered
    price, buys it, the trade page names both paths, and her downloaded statement is what the
    ledger (the REST API) says."""
    from playwright.sync_api import expect, sync_playwright

    energy, price = "1.25", "2.75"
    energy_wh, price_units = parse_kwh(energy), parse_price(price)
    fee_per_kwh = 150_000 + 100_000  # north → central, central → bangkok (thai_market.toml)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            nan = open_trading_page(browser, live_site, "hydro_nan", DESKTOP)
            malee = open_trading_page(browser, live_site, "home_malee", DESKTOP)
            place(nan, energy=energy, price=price, side="sell", source="hydro")
            expect(nan.locator("#order-ticket .flash-success")).to_contain_text("Signed and sent")

            # Bangkok's page lists the North ask with the route it would take and what it costs delivered.
            reachable = malee.locator(".reachable-asks tbody tr", has_text=re.compile("north", re.I))
            expect(reachable.first).to_contain_text(
                re.compile("north → central → bangkok", re.I), timeout=LIVE
            )
            expect(reachable.first).to_contain_text(tokens(price_units + fee_per_kwh))
            malee.screenshot(path=SHOTS / "market-reachable-route.png", full_page=True)

            place(malee, energy=energy, price=price)
            fill = malee.locator("#market-fills tr[data-trade]", has_text=kwh(energy_wh)).first
            expect(fill).to_be_visible(timeout=LIVE)
            trade_id = fill.get_attribute("data-trade")
            expect(nan.locator(f'#market-fills tr[data-trade="{trade_id}"]')).to_be_visible(timeout=LIVE)

            detail = malee.context.new_page()
            detail.goto(f"{live_site.url}/market/trades/{trade_id}/")
            expect(detail.locator("#trade-route")).to_contain_text("North → Central → Bangkok")
            expect(detail.locator("#trade-route")).to_contain_text("2 transmission paths")
            detail.screenshot(path=SHOTS / "market-trade-route.png", full_page=True)

            [trade] = [
                t
                for t in detail.request.get(f"{live_site.url}/api/v1/market/trades/?limit=500").json()
                if t["trade_id"] == trade_id
            ]
            assert trade["route"] == "north,central,bangkok"
            assert trade["wheeling_fee_tokens"] == value_units(energy_wh, fee_per_kwh)
            assert trade["paid_tokens"] == value_units(energy_wh, price_units)

            detail.goto(f"{live_site.url}/statement/")
            with detail.expect_download() as download:
                detail.click("#statement-csv")
            rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
            detail.screenshot(path=SHOTS / "statement.png", full_page=True)
        finally:
            browser.close()

    figures = {row[0]: row[1] for row in rows[4:]}
    address, month = rows[0][1], rows[1][1]
    mine = [
        t
        for t in httpx.get(
            f"{live_site.url}/api/v1/market/trades/", params={"account": address, "limit": 500}
        ).json()
        if t["buyer"] == address and slot_month(t["delivery_slot_ms"]) == month
    ]
    assert trade_id in {t["trade_id"] for t in mine}
    settled = [t for t in mine if t["settled_height"]]
    waiting = [t for t in mine if not t["settled_height"]]
    assert int(figures["bought_wh"]) == sum(t["delivered_wh"] for t in settled)
    assert int(figures["energy_cost"]) == sum(t["paid_tokens"] - t["refund_tokens"] for t in settled)
    assert int(figures["wheeling_fees"]) == sum(t["wheeling_fee_tokens"] for t in mine)
    assert int(figures["bought_pending_wh"]) == sum(t["energy_wh"] for t in waiting)
    assert int(figures["cost_pending"]) == sum(t["paid_tokens"] for t in waiting)


def slot_month(slot_ms: int) -> str:
    """The statement's month of a delivery slot: in the site's time zone."""
    return datetime.fromtimestamp(slot_ms / 1000, ZoneInfo("Asia/Bangkok")).strftime("%Y-%m")
