"""`make run`'s grid: with GTX_DEMO_GRID=1, beat signs a report every second on a real site."""

import time
from pathlib import Path

import pytest

from localnet.network import start_site, stop_site

pytestmark = [pytest.mark.live]


@pytest.fixture(scope="module")
def demo_grid_site(tmp_path_factory):
    site, procs = start_site(
        tmp_path_factory.mktemp("demo_grid"), extra_env={"GTX_DEMO_GRID": "1", "GTX_DEMO_MARKET": "1"}
    )
    yield site
    stop_site(site, procs)


def _latest(site) -> dict | None:
    regions = site.get("/api/v1/grid/regions/").json()["regions"]
    statuses = [r["status"] for r in regions]
    return statuses[0] if all(statuses) else None


def test_the_simulator_reports_every_region_again_and_again(demo_grid_site):
    site = demo_grid_site
    first = site.wait_for(lambda: _latest(site), timeout=60)
    later = site.wait_for(
        lambda: (s := _latest(site)) and s["time_ms"] >= first["time_ms"] + 3000 and s, timeout=60
    )
    assert later["height"] > first["height"]
    assert 49_000 < later["frequency_mhz"] < 51_000
    history = site.get("/api/v1/grid/regions/bangkok/history/?resolution=1").json()["samples"]
    assert len(history) >= 3
    paths = site.get("/api/v1/grid/paths/").json()
    assert all(p["flow_kw"] is not None for p in paths)


@pytest.mark.browser
def test_the_dashboard_moves_with_the_simulator(demo_grid_site):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(__file__).resolve().parents[3] / "test-output"
    shots.mkdir(exist_ok=True)
    site = demo_grid_site
    site.wait_for(lambda: _latest(site), timeout=60)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(site.url + "/grid/")
            page.wait_for_selector("#grid-live.on", timeout=30_000)
            count = "Chart.getChart('frequency-chart').data.labels.length"
            start = page.evaluate(count)
            # Polled from here: wait_for_function evaluates a string in the page, which the
            # site's Content-Security-Policy (no 'unsafe-eval') forbids, as it should.
            deadline = time.monotonic() + 30
            while page.evaluate(count) < start + 5:
                assert time.monotonic() < deadline, "the frequency chart did not grow by 5 points in 30 s"
                page.wait_for_timeout(200)
            frequency = page.locator('[data-grid-stat="frequency"]')
            expect(frequency).not_to_have_text(frequency.inner_text(), timeout=30_000)
            page.screenshot(path=shots / "grid-dashboard-simulated.png", full_page=True)
            page.goto(site.url + "/grid/regions/central/")
            page.wait_for_selector("#grid-live.on", timeout=30_000)
            page.screenshot(path=shots / "grid-region-simulated.png", full_page=True)
        finally:
            browser.close()
