"""The demo's grid simulator: one report's figures from the last report, the clock and the trades.

Off-chain and approximate, floats inside; what it returns is integers, as the
chain wants. Thailand is one synchronous grid, so frequency is national (each
region reads it with a little meter noise) and moves with the national
imbalance through a swing equation:

    df/dt = f0 * (generation - load) / (2 * H * load) - D * (f - f0)

with inertia constant H and damping D; thermal plants follow the residual load
(automatic generation control) and the frequency (governor droop). Load follows
a Thai daily profile (UTC+7), solar the sun, and each path's flow is a base
physical transfer plus the energy the market traded over it in the current
delivery slot (LineUsage). Now and then a large unit trips: frequency dips and,
if it leaves the band, cross-zone trading pauses.
"""

import math
import random
from dataclasses import dataclass

F0_MHZ = 50_000
INERTIA_H_S = 5.0
DAMPING_PER_S = 0.3
AGC_GAIN_PER_S = 0.08
DROOP_GAIN_PER_S = 2.0
TRIP_CHANCE_PER_S = 1 / 900
TRIP_MW = 1_800
STEP_S = 0.2
LOCAL_UTC_OFFSET_H = 7
#: Fraction of a region's base load by local hour (Thai weekday shape: afternoon and evening peaks).
DAILY_LOAD = (
    0.78, 0.75, 0.73, 0.72, 0.71, 0.72, 0.76, 0.82, 0.90, 0.96, 1.00, 1.02,
    1.00, 1.03, 1.05, 1.04, 1.00, 0.97, 0.98, 1.00, 0.99, 0.95, 0.90, 0.84,
)  # fmt: skip
#: Installed renewables per region, MW: (solar, always-on renewables: hydro, wind, biomass).
RENEWABLES_MW = {
    "bangkok": (400, 0),
    "central": (1_500, 250),
    "north": (300, 900),
    "northeast": (800, 900),
    "east": (600, 100),
    "south": (200, 700),
}
#: Share of a region's load its genesis carbon intensity assumes renewable.
TYPICAL_RENEWABLE_SHARE = 0.12
#: Typical transfer on each path as a share of its capacity, towards its "to" zone.
BASE_FLOW_SHARE = 0.35


@dataclass
class Previous:
    """What the simulator remembers of the last report: the chain's latest figures."""

    time_ms: int
    frequency_mhz: int
    #: Thermal output of the last tick, or None when this process has not run one.
    thermal_mw: float | None


def local_hour(time_ms: int) -> float:
    return (time_ms / 3_600_000 + LOCAL_UTC_OFFSET_H) % 24


def load_factor(hour: float) -> float:
    low = int(hour) % 24
    frac = hour - int(hour)
    return DAILY_LOAD[low] * (1 - frac) + DAILY_LOAD[(low + 1) % 24] * frac


def sun_factor(hour: float) -> float:
    """Clear-sky solar output as a share of installed, 06:00 to 18:00 local."""
    return max(0.0, math.sin(math.pi * (hour - 6) / 12)) ** 1.3


def simulate(
    *,
    time_ms: int,
    previous: Previous | None,
    regions: list[dict],
    transmission: list[dict],
    traded_wh: dict[str, int],
    slot_ms: int,
    rng: random.Random,
) -> tuple[dict, float]:
    """The grid_report payload at ``time_ms`` and the thermal output (MW) to remember.

    ``regions`` and ``transmission`` are the genesis lists; ``traded_wh`` maps a
    path id ("a:b", zones sorted) to the Wh the market scheduled over it in the
    current slot.
    """
    hour = local_hour(time_ms)
    loads, renewables = {}, {}
    for region in regions:
        rid = region["id"]
        noise = 1 + rng.gauss(0, 0.004)
        loads[rid] = region["base_load_mw"] * load_factor(hour) * noise
        solar, steady = RENEWABLES_MW.get(rid, (0, 0))
        renewables[rid] = solar * sun_factor(hour) * (1 + rng.gauss(0, 0.02)) + steady
    load = sum(loads.values())
    renewable = sum(renewables.values())
    residual = max(load - renewable, 0.0)

    if previous is None:
        dt, f = 1.0, F0_MHZ / 1000
        thermal = residual
    else:
        dt = min(max((time_ms - previous.time_ms) / 1000, 0.0), 5.0)
        f = previous.frequency_mhz / 1000
        thermal = residual if previous.thermal_mw is None else previous.thermal_mw
    if rng.random() < TRIP_CHANCE_PER_S * dt:
        thermal -= TRIP_MW  # a large unit trips; AGC and governors bring it back
    # Explicit Euler in steps of at most STEP_S: a late tick (a busy machine) must not
    # make the integration overshoot and swing the frequency.
    steps = max(1, math.ceil(dt / STEP_S))
    h = dt / steps
    for _ in range(steps):
        thermal += h * (AGC_GAIN_PER_S * (residual - thermal) - DROOP_GAIN_PER_S * (f - 50.0) / 50.0 * load)
        df_dt = 50.0 * (thermal + renewable - load) / (2 * INERTIA_H_S * load) - DAMPING_PER_S * (f - 50.0)
        f = min(max(f + df_dt * h, 48.0), 52.0)

    items = []
    share_of_load = {rid: value / load for rid, value in loads.items()}
    for region in regions:
        rid = region["id"]
        gen = thermal * share_of_load[rid] + renewables[rid]
        ren_share = min(renewables[rid] / gen, 1.0) if gen > 0 else 0.0
        carbon = region["carbon_g_per_kwh"] * (1 - ren_share) / (1 - TYPICAL_RENEWABLE_SHARE)
        balance = (gen - loads[rid]) / loads[rid]
        items.append(
            {
                "region": rid,
                "frequency_mhz": round(f * 1000 + rng.gauss(0, 3)),
                "voltage_permille": round(min(max(1000 + 40 * balance + rng.gauss(0, 2), 900), 1100)),
                "load_kw": round(loads[rid] * 1000),
                "generation_kw": round(max(gen, 0.0) * 1000),
                "renewable_ppm": round(ren_share * 1_000_000),
                "carbon_g_per_kwh": round(min(max(carbon, 0), 2000)),
            }
        )
    paths = []
    slot_hours = slot_ms / 3_600_000
    for p in transmission:
        a, b = sorted((p["from"], p["to"]))
        base_kw = BASE_FLOW_SHARE * p["capacity_mw"] * 1000 * (0.8 + 0.2 * load_factor(hour))
        traded_kw = traded_wh.get(f"{a}:{b}", 0) / 1000 / slot_hours
        flow_kw = base_kw + traded_kw  # towards the path's "to" zone
        paths.append({"zone_a": p["from"], "zone_b": p["to"], "flow_kw": round(flow_kw)})
    return {"time_ms": time_ms, "regions": items, "paths": paths}, thermal
