"""The demo grid simulator: frequency follows the imbalance, load the Thai day, solar the sun."""

import random

import pytest

from grid import simulator as sim
from grid.ledger.rules import check_report_payload
from tests.grid.harness import GENESIS

PARAMS = GENESIS.params
SLOT_MS = 15 * 60_000
#: 2026-11-24 07:00 UTC is 14:00 in Bangkok; 21:00 UTC is 04:00.
AFTERNOON_MS = 1_795_935_600_000
NIGHT_MS = AFTERNOON_MS + 14 * 3_600_000


def tick(time_ms, previous=None, traded=None, seed=1):
    return sim.simulate(
        time_ms=time_ms,
        previous=previous,
        regions=PARAMS["regions"],
        transmission=PARAMS["transmission"],
        traded_wh=traded or {},
        slot_ms=SLOT_MS,
        rng=random.Random(seed),
    )


def national(payload, figure):
    return sum(r[figure] for r in payload["regions"])


def test_the_clock_is_thai_time():
    assert sim.local_hour(AFTERNOON_MS) == pytest.approx(14.0)
    assert sim.local_hour(NIGHT_MS) == pytest.approx(4.0)


@pytest.mark.parametrize(("thermal_shift_mw", "direction"), [(+3_000, 1), (-3_000, -1)])
def test_frequency_moves_with_the_imbalance(thermal_shift_mw, direction):
    first, thermal = tick(AFTERNOON_MS)
    previous = sim.Previous(AFTERNOON_MS, 50_000, thermal + thermal_shift_mw)
    second, _ = tick(AFTERNOON_MS + 1000, previous, seed=2)
    mean = national(second, "frequency_mhz") / len(second["regions"])
    assert (mean - 50_000) * direction > 50  # tens of mHz in one second, the right way


def test_load_follows_the_day_and_solar_the_sun():
    day, _ = tick(AFTERNOON_MS)
    night, _ = tick(NIGHT_MS)
    assert national(day, "load_kw") > national(night, "load_kw") * 1.2
    bangkok_day = next(r for r in day["regions"] if r["region"] == "bangkok")
    bangkok_night = next(r for r in night["regions"] if r["region"] == "bangkok")
    assert bangkok_day["renewable_ppm"] > 0 and bangkok_night["renewable_ppm"] == 0  # Bangkok: solar only
    assert bangkok_night["carbon_g_per_kwh"] > bangkok_day["carbon_g_per_kwh"]


def test_traded_energy_adds_to_a_paths_flow():
    quiet, _ = tick(AFTERNOON_MS)
    busy, _ = tick(AFTERNOON_MS, traded={"bangkok:east": 250_000_000})  # 250 MWh in 15 min = 1000 MW
    flow = {(p["zone_a"], p["zone_b"]): p["flow_kw"] for p in quiet["paths"]}
    busy_flow = {(p["zone_a"], p["zone_b"]): p["flow_kw"] for p in busy["paths"]}
    assert busy_flow[("east", "bangkok")] - flow[("east", "bangkok")] == 1_000_000
    assert busy_flow[("north", "central")] == flow[("north", "central")]


@pytest.mark.parametrize("tick_ms", [1000, 5000])  # on time, and a busy machine's late ticks
def test_an_hour_of_reports_stays_valid_and_mostly_in_band(tick_ms):
    previous, rng = None, random.Random(7)
    out_of_band = 0
    for i in range(3600 * 1000 // tick_ms):
        at = AFTERNOON_MS + i * tick_ms
        payload, thermal = sim.simulate(
            time_ms=at,
            previous=previous,
            regions=PARAMS["regions"],
            transmission=PARAMS["transmission"],
            traded_wh={},
            slot_ms=SLOT_MS,
            rng=rng,
        )
        check_report_payload(payload, PARAMS)  # raises on anything the chain would refuse
        freq = payload["regions"][0]["frequency_mhz"]
        out_of_band += not 49_500 <= freq <= 50_500
        previous = sim.Previous(at, freq, thermal)
    assert out_of_band < 360_000 // tick_ms  # a trip may leave the band briefly; not a tenth of the hour
