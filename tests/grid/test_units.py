"""Grid figures as people read them: exact, from the integers on chain."""

import pytest

from grid.templatetags.grid_units import hz, mw, mwh, permille_percent, ppm_percent, ppm_width, thousands


@pytest.mark.parametrize(
    ("value", "text"), [(50_000, "50.000"), (49_987, "49.987"), (50_012, "50.012"), (None, "—")]
)
def test_hz_shows_every_millihertz(value, text):
    assert hz(value) == text


def test_power_energy_and_shares():
    assert mw(9_123_456) == "9,123" and mw(None) == "—"
    assert mwh(625_000_000) == "625"
    assert ppm_percent(153_400) == "15.3" and permille_percent(1_002) == "100.2"
    assert ppm_width(2_000_000) == 100 and ppm_width(0) == 0
    assert thousands(4000) == "4,000"
