"""The front end's one WebSocket loop (static/js/live.js, GTX.live.connect) reconnects after a drop."""

import pytest

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_a_dropped_stream_reconnects_and_the_page_catches_up(live_site):
    from playwright.sync_api import sync_playwright

    connections = []

    def through_to_the_site(socket):
        connections.append(socket)
        socket.connect_to_server()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            # Heard from the start: the catch-up event live.js fires once it is back.
            page.add_init_script(
                "document.addEventListener('chain-block', function (e) {"
                " if (e.detail && e.detail.resync) window.resynced = true; });"
            )
            page.route_web_socket("**/ws/chain/", through_to_the_site)
            page.goto(live_site.url + "/explorer/")
            page.wait_for_selector("#live-dot.on", timeout=20_000)

            connections[0].close()  # the stream drops, as a restarting site or a proxy would
            page.wait_for_selector("#live-dot.off", timeout=5_000)
            page.wait_for_selector("#live-dot.on", timeout=20_000)  # back after the first backoff (1 s)

            assert len(connections) == 2
            assert page.evaluate("window.resynced === true")
            assert page.get_attribute("#live-dot", "title") == "Live updates: connected"
        finally:
            browser.close()


def _transfer_committed(site, nonce: int) -> dict:
    """A signed transfer from a demo account, posted to the site and waited for: its block."""
    import httpx

    from chain.ledger.genesis import demo_key
    from chain.ledger.keys import address_of
    from chain.ledger.tx import sign_transaction

    chain_id = site.status()["chain_id"]
    tx = sign_transaction(
        demo_key("factory_rayong"),
        chain_id=chain_id,
        nonce=nonce,
        kind="transfer",
        payload={"to": address_of(demo_key("home_malee")), "amount": 1},
    )
    assert httpx.post(site.url + "/api/v1/transactions/", json=tx.to_wire(), timeout=10).status_code == 202
    found = site.wait_for(
        lambda: (r := site.get(f"/api/v1/transactions/{tx.hash}/").json()).get("status") == "committed" and r
    )
    return site.get(f"/api/v1/blocks/{found['block']['height']}/").json()


def test_blocks_committed_before_the_stream_opens_fill_the_list_in_the_sites_time_zone(live_site):
    """Fault 5 and 6 of issue 18: no hole in the live list, and its times in the site's zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from playwright.sync_api import expect, sync_playwright

    held = []
    first_nonce = int(live_site.get(f"/api/v1/accounts/{_factory_address()}/").json().get("nonce", 0))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            # A reader in New York: the page still shows the site's (Bangkok) times.
            page = browser.new_context(timezone_id="America/New_York").new_page()
            page.route_web_socket("**/ws/chain/", lambda socket: held.append(socket))  # not connected yet
            page.goto(live_site.url + "/explorer/")
            page.wait_for_function("window.GTX && window.GTX.time")
            shown_before = page.locator("tbody[data-live-blocks] tr[data-height]").count()

            # Two blocks commit after the render while the stream is not through to the site;
            # then it is, and the next block's message says the page missed two.
            missed = [_transfer_committed(live_site, first_nonce + i) for i in range(2)]
            held[0].connect_to_server()
            page.wait_for_selector("#live-dot.on", timeout=20_000)
            missed.append(_transfer_committed(live_site, first_nonce + 2))

            for block in missed:
                row = page.locator(f'tbody[data-live-blocks] tr[data-height="{block["height"]}"]')
                expect(row).to_have_count(1, timeout=10_000)
                bangkok = datetime.fromtimestamp(block["timestamp_ms"] / 1000, ZoneInfo("Asia/Bangkok"))
                expect(row.locator("time")).to_have_text(bangkok.strftime("%H:%M:%S"))
            heights = [
                int(h)
                for h in page.locator("tbody[data-live-blocks] tr[data-height]").evaluate_all(
                    "rows => rows.map(r => r.dataset.height)"
                )
            ]
            assert heights == sorted(heights, reverse=True)  # newest first, no duplicates
            assert len(heights) == len(set(heights)) >= min(shown_before + 3, 25)
        finally:
            browser.close()


def _factory_address() -> str:
    from chain.ledger.genesis import demo_key
    from chain.ledger.keys import address_of

    return address_of(demo_key("factory_rayong"))
