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
