"""The demo meters' profiles: solar follows Thailand's sun, windows stay inside slots."""

import random

from meters.ledger.kinds import max_energy_wh
from meters.simulator import local_hour, power_fraction, reading_payload, windows

HOUR = 3_600_000
MIDNIGHT_BANGKOK = 1_795_453_200_000  # 2026-11-23 00:00 UTC+7 (17:00 UTC the day before)
SLOT = 15 * 60_000


def test_thai_local_time_is_utc_plus_seven():
    assert local_hour(MIDNIGHT_BANGKOK) == 0
    assert local_hour(MIDNIGHT_BANGKOK + 12 * HOUR) == 12


def test_solar_is_dark_at_night_and_strongest_at_noon():
    rng = random.Random(1)
    assert power_fraction("solar", MIDNIGHT_BANGKOK + 2 * HOUR, rng) == 0
    assert power_fraction("solar", MIDNIGHT_BANGKOK + 20 * HOUR, rng) == 0
    noon = [power_fraction("solar", MIDNIGHT_BANGKOK + 12 * HOUR, rng) for _ in range(20)]
    morning = [power_fraction("solar", MIDNIGHT_BANGKOK + 7 * HOUR, rng) for _ in range(20)]
    assert min(noon) > max(morning) > 0


def test_household_load_peaks_in_the_evening():
    rng = random.Random(2)
    evening = min(power_fraction("consumption", MIDNIGHT_BANGKOK + 20 * HOUR, rng) for _ in range(20))
    night = max(power_fraction("consumption", MIDNIGHT_BANGKOK + 3 * HOUR, rng) for _ in range(20))
    assert evening > night


def test_windows_are_whole_minutes_cut_at_slot_boundaries():
    start = MIDNIGHT_BANGKOK + SLOT - 2 * 60_000
    spans = windows(start, start + 4 * 60_000 + 30_000, SLOT)
    assert spans == [(start, start + 2 * 60_000), (start + 2 * 60_000, start + 4 * 60_000)]
    assert all(a // SLOT == (b - 1) // SLOT for a, b in spans)
    assert windows(start, start + 59_000, SLOT) == []


def test_readings_never_exceed_the_rating():
    rng = random.Random(3)
    for hour in range(24):
        start = MIDNIGHT_BANGKOK + hour * HOUR
        for kind in ("solar", "wind", "hydro", "consumption"):
            payload = reading_payload(
                kind=kind, rated_capacity_w=7_000, start_ms=start, end_ms=start + 60_000, rng=rng
            )
            assert 0 <= payload["export_wh"] + payload["import_wh"] <= max_energy_wh(7_000, 60_000)
