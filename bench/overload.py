"""Steps of offered load, the knee, and three times the knee: the overload shape every REST
benchmark shares (bench.network, bench.market, bench.meters).

BENCH_RATES="400,700,1000" offers each rate in turn (a step); the knee is the most a step
completed while the p95 of what it accepted stayed within KNEE_P95_S. BENCH_OVERLOAD=3 then
offers three times the knee, and the figures printed are that step's, with its throughput as
a ratio to the knee (``ratio_to_knee``) and how fast refusals came (``refused_p50_ms``,
``refused_p95_ms``).
"""

import os
from collections.abc import Callable

from bench.ledger import _env_int, _percentile

#: The knee: the most a step completed while its accepted work stayed within this p95.
KNEE_P95_S = 2.5


def rates_from_env(default_rate: int) -> tuple[list[int], int]:
    """BENCH_RATES (else BENCH_RATE, else ``default_rate``) and BENCH_OVERLOAD (0: none)."""
    rates = os.environ.get("BENCH_RATES", str(_env_int("BENCH_RATE", default_rate)))
    return [int(r) for r in rates.split(",")], _env_int("BENCH_OVERLOAD", 0)


def refusal_figures(refusal_seconds: list[float], codes: list[str] | None = None) -> dict:
    """How long the site took to refuse a batch for want of room, milliseconds; with each
    refusal's code, the same per code too (``refused_by_code``)."""
    ordered = sorted(refusal_seconds)
    figures = {
        "refused_batches": len(ordered),
        "refused_p50_ms": round(_percentile(ordered, 0.5) * 1000, 1) if ordered else None,
        "refused_p95_ms": round(_percentile(ordered, 0.95) * 1000, 1) if ordered else None,
    }
    if codes is not None:
        by_code: dict[str, list[float]] = {}
        for seconds, code in zip(refusal_seconds, codes, strict=True):
            by_code.setdefault(code, []).append(seconds)
        figures["refused_by_code"] = {code: refusal_figures(times) for code, times in sorted(by_code.items())}
    return figures


def stepped(step: Callable[[int], dict], rates: list[int], overload: int, *, throughput: str) -> dict:
    """Run ``step(rate)`` for each rate, then for ``overload`` times the knee if asked.

    ``throughput`` names the figure of a step that the knee is taken of. Returns the last
    step's figures, with the steps, the knee and the overload's ratio to it when there is more
    than one step."""
    steps = [step(rate) for rate in rates]
    result = dict(steps[-1])
    if len(steps) == 1 and not overload:
        return result
    within = [s[throughput] for s in steps if s["p95_s"] is not None and s["p95_s"] <= KNEE_P95_S]
    knee = max(within) if within else steps[0][throughput]
    summary_keys = (
        "offered",
        throughput,
        "p50_s",
        "p95_s",
        "refused_batches",
        "refused_p50_ms",
        "refused_p95_ms",
        "efficiency",
    )
    result |= {
        "steps": [{key: s[key] for key in (*summary_keys, "blocks") if key in s} for s in steps],
        "knee": knee,
        "knee_p95_limit_s": KNEE_P95_S,
    }
    if overload:
        heavy = step(int(overload * knee))
        result |= heavy | {
            "overload_factor": overload,
            "ratio_to_knee": round(heavy[throughput] / knee, 3) if knee else None,
        }
    return result
