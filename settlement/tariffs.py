"""What a member would have paid or earned at the utility, to compare with the market.

The statement (settlement.selectors.monthly_statement) prices the Wh a member bought
and sold on the market at the utility's published rates, genesis parameters in units
(10^-6 token ≈ 10^-6 THB) per kWh that governance may change:

- ``tariff_flat_per_kwh``: the residential flat rate (about 4.2 THB/kWh with Ft);
- ``tariff_tou_peak_per_kwh`` / ``tariff_tou_offpeak_per_kwh``: the residential
  time-of-use rate, peak on Monday to Friday from 09:00 to 22:00 Bangkok time,
  off-peak at night and at weekends (public holidays are not known here and count
  as the weekday they fall on);
- ``tariff_buyback_per_kwh``: the rooftop solar buy-back rate (2.2 THB/kWh).

A slot is priced by the time its delivery starts. Amounts round down per slot, like
the ledger's ``value_units``.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from trading.ledger.rules import value_units

BANGKOK = ZoneInfo("Asia/Bangkok")
PEAK_HOURS = range(9, 22)
WEEKDAYS = range(0, 5)

#: The figures when a genesis names none (thai_market.toml [market] documents them).
DEFAULTS = {
    "tariff_flat_per_kwh": 4_200_000,
    "tariff_tou_peak_per_kwh": 6_195_400,
    "tariff_tou_offpeak_per_kwh": 3_034_100,
    "tariff_buyback_per_kwh": 2_200_000,
}


@dataclass(frozen=True, slots=True)
class Tariffs:
    flat_per_kwh: int
    tou_peak_per_kwh: int
    tou_offpeak_per_kwh: int
    buyback_per_kwh: int


def tariffs_of(params: dict) -> Tariffs:
    figures = {name: params.get(name, default) for name, default in DEFAULTS.items()}
    return Tariffs(*(figures[name] for name in DEFAULTS))


def is_peak(slot_ms: int) -> bool:
    """Whether a slot starting at ``slot_ms`` is in the time-of-use peak."""
    start = datetime.fromtimestamp(slot_ms / 1000, BANGKOK)
    return start.weekday() in WEEKDAYS and start.hour in PEAK_HOURS


@dataclass(frozen=True, slots=True)
class UtilityComparison:
    """What Wh delivered per slot would have cost at each retail rate, or earned at buy-back."""

    wh: int
    peak_wh: int
    flat_cost: int
    tou_cost: int
    buyback_value: int


def at_utility_rates(wh_by_slot: dict[int, int], tariffs: Tariffs) -> UtilityComparison:
    peak_wh = sum(wh for slot, wh in wh_by_slot.items() if is_peak(slot))
    tou = sum(
        value_units(wh, tariffs.tou_peak_per_kwh if is_peak(slot) else tariffs.tou_offpeak_per_kwh)
        for slot, wh in wh_by_slot.items()
    )
    return UtilityComparison(
        wh=sum(wh_by_slot.values()),
        peak_wh=peak_wh,
        flat_cost=sum(value_units(wh, tariffs.flat_per_kwh) for wh in wh_by_slot.values()),
        tou_cost=tou,
        buyback_value=sum(value_units(wh, tariffs.buyback_per_kwh) for wh in wh_by_slot.values()),
    )
