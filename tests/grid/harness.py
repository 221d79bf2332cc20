"""Grid payloads for tests: a calm report of every region, and operator path limits."""

from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH

GENESIS = load_genesis(GENESIS_PATH)
REGIONS = [r["id"] for r in GENESIS.params["regions"]]


def region_report(region: str, **figures) -> dict:
    return {
        "region": region,
        "frequency_mhz": 50_000,
        "voltage_permille": 1_000,
        "load_kw": 7_000_000,
        "generation_kw": 7_100_000,
        "renewable_ppm": 150_000,
        "carbon_g_per_kwh": 450,
        **figures,
    }


def report(time_ms: int, regions=None, paths=None, **figures) -> dict:
    """A grid_report of ``regions`` (default all) with the same ``figures`` each."""
    payload = {"time_ms": time_ms, "regions": [region_report(r, **figures) for r in regions or REGIONS]}
    if paths is not None:
        payload["paths"] = paths
    return payload


def limit(
    from_slot: int, zone_a: str = "east", zone_b: str = "bangkok", congested: bool = True, **extra
) -> dict:
    return {"zone_a": zone_a, "zone_b": zone_b, "from_slot": from_slot, "congested": congested, **extra}
