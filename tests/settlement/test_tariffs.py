"""The utility's rates a statement compares with: peak hours in Bangkok time, rounding per slot."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from settlement.tariffs import DEFAULTS, Tariffs, at_utility_rates, is_peak, tariffs_of

BANGKOK = ZoneInfo("Asia/Bangkok")


def ms(*when) -> int:
    return int(datetime(*when, tzinfo=BANGKOK).timestamp() * 1000)


@pytest.mark.parametrize(
    ("when", "peak"),
    [
        ((2026, 12, 2, 9, 0), True),  # Wednesday 09:00, the first peak slot
        ((2026, 12, 2, 8, 45), False),
        ((2026, 12, 2, 21, 45), True),  # the last peak slot
        ((2026, 12, 2, 22, 0), False),
        ((2026, 12, 5, 12, 0), False),  # Saturday noon
        ((2026, 12, 7, 2, 0), False),  # Monday night
    ],
)
def test_peak_hours_are_weekdays_9_to_22_in_bangkok(when, peak):
    assert is_peak(ms(*when)) is peak


def test_delivered_energy_is_priced_per_slot_at_each_rate():
    rates = Tariffs(
        flat_per_kwh=4_200_000,
        tou_peak_per_kwh=6_000_001,
        tou_offpeak_per_kwh=3_000_000,
        buyback_per_kwh=2_200_000,
    )
    slots = {ms(2026, 12, 2, 10, 0): 1_001, ms(2026, 12, 5, 10, 0): 2_000}
    compared = at_utility_rates(slots, rates)
    assert compared.wh == 3_001 and compared.peak_wh == 1_001
    assert compared.flat_cost == 4_204_200 + 8_400_000
    assert compared.tou_cost == 1_001 * 6_000_001 // 1000 + 6_000_000  # rounded down per slot
    assert compared.buyback_value == 2_202_200 + 4_400_000
    assert at_utility_rates({}, rates).tou_cost == 0


def test_a_genesis_without_tariffs_uses_the_documented_figures_and_governance_may_change_one():
    assert tariffs_of({}) == Tariffs(*DEFAULTS.values())
    assert tariffs_of({"tariff_buyback_per_kwh": 1}).buyback_per_kwh == 1
