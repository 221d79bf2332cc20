"""Demo meters: signed readings for the demo producers and consumers, published to MQTT.

Solar follows the sun over Thailand's day (UTC+7: zero before 06:00 and after
18:00, a sine peaking at noon, thinned by passing clouds); wind blows harder at
night; small hydro runs steadily; household load peaks in the evening and a
factory's by day. Each tick reports, for every demo meter, the whole minutes
since its last reported window (split at delivery slot boundaries), as the
meter itself would: signed with the meter's key, sent to its MQTT topic.

Only `make run` runs it (GTX_METERS_DEMO=1): the demo keys come from public seeds.
"""

import json
import logging
import math
import random

from chain.ledger.keys import address_of
from chain.ledger.tx import Transaction, sign_transaction
from meters.topics import TOPIC_ROOT

log = logging.getLogger(__name__)

MS_PER_HOUR = 3_600_000
MS_PER_MINUTE = 60_000
THAILAND_UTC_OFFSET_MS = 7 * MS_PER_HOUR
#: A first report covers at most this much of the past.
MAX_BACKFILL_MS = 15 * MS_PER_MINUTE


def local_hour(timestamp_ms: int) -> float:
    """Hour of the day in Thailand (UTC+7), 0 <= h < 24."""
    return ((timestamp_ms + THAILAND_UTC_OFFSET_MS) % (24 * MS_PER_HOUR)) / MS_PER_HOUR


def power_fraction(kind: str, timestamp_ms: int, rng: random.Random) -> float:
    """Share of rated power at ``timestamp_ms``: export for generators, import for consumption."""
    hour = local_hour(timestamp_ms)
    if kind == "solar":
        if not 6 <= hour <= 18:
            return 0.0
        return math.sin(math.pi * (hour - 6) / 12) * rng.uniform(0.75, 1.0)
    if kind == "wind":
        return max(0.0, 0.35 + 0.15 * math.cos(math.pi * hour / 12) + rng.uniform(-0.1, 0.1))
    if kind in ("hydro", "biomass"):
        return 0.6 + rng.uniform(-0.05, 0.05)
    # consumption: a household's morning and evening peaks, over a base load
    base = 0.25 + 0.15 * math.exp(-((hour - 7.5) ** 2) / 2) + 0.5 * math.exp(-((hour - 20) ** 2) / 4)
    return min(1.0, base * rng.uniform(0.9, 1.1))


def factory_fraction(timestamp_ms: int, rng: random.Random) -> float:
    hour = local_hour(timestamp_ms)
    return (0.8 if 8 <= hour < 17 else 0.35) * rng.uniform(0.95, 1.05)


def windows(last_end_ms: int, now_ms: int, slot_ms: int) -> list[tuple[int, int]]:
    """Whole minutes from ``last_end_ms`` to ``now_ms``, cut at slot boundaries (one reading each)."""
    end = now_ms // MS_PER_MINUTE * MS_PER_MINUTE
    start = max(last_end_ms, end - MAX_BACKFILL_MS)
    result = []
    while start < end:
        stop = min(end, (start // slot_ms + 1) * slot_ms)
        result.append((start, stop))
        start = stop
    return result


def reading_payload(
    *, kind: str, rated_capacity_w: int, start_ms: int, end_ms: int, rng: random.Random, factory: bool = False
) -> dict:
    """A meter's reading of the window: energy at the profile's power at the window's middle."""
    middle = (start_ms + end_ms) // 2
    fraction = factory_fraction(middle, rng) if factory else power_fraction(kind, middle, rng)
    energy_wh = int(rated_capacity_w * fraction * (end_ms - start_ms) / MS_PER_HOUR)
    energy_wh = max(0, min(energy_wh, rated_capacity_w * (end_ms - start_ms) // MS_PER_HOUR))
    consumption = kind == "consumption"
    return {
        "window_start_ms": start_ms,
        "window_end_ms": end_ms,
        "import_wh": energy_wh if consumption else 0,
        "export_wh": 0 if consumption else energy_wh,
    }


def signed_readings(
    *, key, chain_id: str, nonce: int, kind: str, rated_capacity_w: int, spans, rng, factory=False
) -> list[Transaction]:
    txs = []
    for offset, (start, end) in enumerate(spans):
        payload = reading_payload(
            kind=kind, rated_capacity_w=rated_capacity_w, start_ms=start, end_ms=end, rng=rng, factory=factory
        )
        txs.append(
            sign_transaction(
                key, chain_id=chain_id, nonce=nonce + offset, kind="meter_reading", payload=payload
            )
        )
    return txs


def simulator_tick(
    client, *, now_ms: int, rng: random.Random | None = None, root: str = TOPIC_ROOT, headend: str = ""
) -> int:
    """Publish the due readings of every registered demo meter; returns how many were published.

    Each meter publishes its own (a backfill of several windows as one message); with
    ``headend`` they go together, as a utility's head-end
    carries its meters' signed readings, in messages of up to HEADEND_MAX_READINGS.
    """
    from chain.models import ChainHead
    from chain.services.mempool import next_nonce
    from meters.models import Meter
    from meters.services import DEMO_METERS, demo_meter_key
    from meters.topics import (
        HEADEND_MAX_READINGS,
        headend_message,
        headend_topic,
        meter_messages,
        readings_topic,
    )

    rng = rng or random.Random()
    head = ChainHead.objects.only("chain_id", "params").get()
    slot_ms = head.params["slot_minutes"] * MS_PER_MINUTE
    keys = {address_of(demo_meter_key(name)): (name, demo_meter_key(name)) for name in DEMO_METERS}
    published, carried = 0, []
    for meter in Meter.objects.filter(meter_id__in=list(keys), revoked_height=0):
        name, key = keys[meter.meter_id]
        spans = windows(meter.last_window_end_ms, now_ms, slot_ms)
        txs = signed_readings(
            key=key,
            chain_id=head.chain_id,
            nonce=next_nonce(meter.meter_id),
            kind=meter.kind,
            rated_capacity_w=meter.rated_capacity_w,
            spans=spans,
            rng=rng,
            factory=name == "factory_rayong",
        )
        encoded = [json.dumps(tx.to_wire()) for tx in txs]
        if headend:
            carried.extend(encoded)
        else:
            for message in meter_messages(encoded):  # a backfill as one message
                client.publish(readings_topic(meter.meter_id, root), message, qos=1)
        published += len(encoded)
    for first in range(0, len(carried), HEADEND_MAX_READINGS):
        readings = carried[first : first + HEADEND_MAX_READINGS]
        client.publish(headend_topic(headend, root), headend_message(f"{now_ms}-{first}", readings), qos=1)
    return published
