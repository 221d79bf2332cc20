"""grid_report in memory: what an accepted report records, and each refusal with its reason."""

import pytest

from chain.ledger import errors
from grid.ledger import rules as g
from grid.ledger.records import MINUTE_RING, SECOND_RING, GridSample
from tests.grid.harness import GENESIS, REGIONS, region_report, report
from tests.trading.harness import T0, MemoryChain, address


@pytest.fixture
def chain():
    return MemoryChain(GENESIS, GENESIS.params)


def table(chain, name) -> dict:
    return dict(chain.store.tables.get(name, {}))


def run(chain, who, kind, payload, at=T0):
    result = chain.block([chain.tx(who, kind, payload)], timestamp_ms=at)
    [receipt] = result.receipts
    return receipt, result


def test_an_authority_report_sets_each_regions_latest_figures_and_history(chain):
    payload = report(T0 - 500, paths=[{"zone_a": "east", "zone_b": "bangkok", "flow_kw": 300_000}])
    payload["regions"][0] = region_report("bangkok", frequency_mhz=50_120, load_kw=9_000_000)
    receipt, result = run(chain, "EGAT", "grid_report", payload)

    assert receipt.ok, receipt
    regions = table(chain, "grid_region")
    assert sorted(regions) == sorted(REGIONS)
    bangkok = regions["bangkok"]
    assert (bangkok.frequency_mhz, bangkok.load_kw, bangkok.time_ms) == (50_120, 9_000_000, T0 - 500)
    assert bangkok.reporter == address("EGAT") and bangkok.height == 1
    samples = table(chain, "grid_sample")
    assert len(samples) == 2 * len(REGIONS)  # one per-second and one per-minute sample each
    # Flows are stored from the path's first zone (sorted): east->bangkok is negative.
    [path] = table(chain, "grid_path").values()
    assert (path.path_id, path.flow_kw) == ("bangkok:east", -300_000)
    [event] = [e for e in result.events if e["type"] == "grid_report"]
    assert event["regions"][0]["frequency_mhz"] == 50_120


def test_history_rings_stay_bounded_and_keep_the_minutes_extremes(chain):
    # Reports every second for 6 minutes, one region, from several authorities.
    for i in range(SECOND_RING + 60):
        freq = 50_000 + (i % 7) * 10
        at = T0 + i * 1000
        receipt, _ = run(chain, "MEA", "grid_report", report(at, ["bangkok"], frequency_mhz=freq), at=at)
        assert receipt.ok
    samples = [s for s in table(chain, "grid_sample").values() if s.region == "bangkok"]
    seconds = [s for s in samples if s.resolution_s == 1]
    minutes = [s for s in samples if s.resolution_s == 60]
    assert len(seconds) == SECOND_RING  # the oldest were overwritten
    assert min(s.time_ms for s in seconds) == T0 + 60_000
    assert len(minutes) == 6 + (1 if T0 % 60_000 else 0) and len(minutes) <= MINUTE_RING
    full = next(s for s in minutes if s.bucket_ms == T0 // 60_000 * 60_000 + 60_000)
    assert (full.frequency_min_mhz, full.frequency_max_mhz) == (50_000, 50_060)
    assert GridSample.id_of("bangkok", 1, T0) == GridSample.id_of("bangkok", 1, T0 + SECOND_RING * 1000)


@pytest.mark.parametrize(
    ("who", "payload", "code"),
    [
        ("solar_somchai", report(T0), g.NOT_AUTHORITY),
        ("EGAT", report(T0, ["mars"]), g.UNKNOWN_REGION),
        ("EGAT", report(T0, frequency_mhz=70_000), g.BAD_FIGURE),
        ("EGAT", report(T0, frequency_mhz="50000"), g.BAD_FIGURE),
        ("EGAT", report(T0, load_kw=-1), g.BAD_FIGURE),
        ("EGAT", report(T0, renewable_ppm=1_000_001), g.BAD_FIGURE),
        ("EGAT", report(T0, voltage_permille=True), g.BAD_FIGURE),
        ("EGAT", report(T0 + 60_000), g.REPORT_IN_FUTURE),
        ("EGAT", report(T0 - 3_600_000), g.REPORT_TOO_OLD),
        ("EGAT", {"time_ms": T0, "regions": []}, errors.BAD_FIELD),
        ("EGAT", {"time_ms": T0, "regions": [region_report("north")] * 2}, errors.BAD_FIELD),
        ("EGAT", {**report(T0), "extra": 1}, errors.BAD_FIELD),
        ("EGAT", {"time_ms": T0, "regions": [{"region": "north"}]}, errors.BAD_FIELD),
        ("EGAT", report(T0, paths=[{"zone_a": "north", "zone_b": "south", "flow_kw": 1}]), g.UNKNOWN_PATH),
        (
            "EGAT",
            report(T0, paths=[{"zone_a": "north", "zone_b": "central", "flow_kw": 10**12}]),
            g.BAD_FIGURE,
        ),
    ],
)
def test_a_bad_report_is_refused_with_its_reason_and_changes_nothing(chain, who, payload, code):
    receipt, _ = run(chain, who, "grid_report", payload)
    assert not receipt.ok
    assert receipt.code == code, receipt.message
    assert receipt.message
    for name in ("grid_region", "grid_sample", "grid_path", "grid_alarm"):
        assert table(chain, name) == {}


def test_a_report_not_newer_than_the_regions_latest_is_refused(chain):
    assert run(chain, "EGAT", "grid_report", report(T0, ["north"]))[0].ok
    before = table(chain, "grid_region")
    receipt, _ = run(chain, "PEA", "grid_report", report(T0, ["north", "south"]), at=T0 + 1)
    assert (receipt.ok, receipt.code) == (False, g.STALE_REPORT)
    assert table(chain, "grid_region") == before


def test_an_authority_that_is_not_active_may_still_report(chain):
    # MEA is an authority but not an active validator in the demo genesis.
    assert run(chain, "MEA", "grid_report", report(T0, ["bangkok"]))[0].ok
