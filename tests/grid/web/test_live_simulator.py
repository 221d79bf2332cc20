"""`make run`'s grid: with GTX_DEMO_GRID=1, beat signs a report every second on a real site."""

import pytest

from gridtokenx_site.testsite import start_site, stop_site

pytestmark = [pytest.mark.live]


@pytest.fixture(scope="module")
def demo_grid_site(tmp_path_factory):
    site, procs = start_site(tmp_path_factory.mktemp("demo_grid"), extra_env={"GTX_DEMO_GRID": "1"})
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
