"""Intake shards and the scaling coordinator's rule (the seed's ScalingCoordinator).

A shard is a Celery queue of intake work (parse, check, verify signatures, admit) that any
worker host may consume; the consensus step stays one at a time per site. A batch goes to one
shard, chosen by the site's strategy (the seed's three):

- ``region``: the region of the batch's first order, meter or grid report, else its sender's
  hash: a region's traffic shares a queue;
- ``energy``: the energy source its first order names (solar, wind, ...), else the sender;
- ``load``: the first sender's hash: senders spread evenly, and one sender's batches keep
  their order on one queue.

Plain functions: the coordinator's decision is tested without workers.
"""

import hashlib
from dataclasses import dataclass

from chain.ledger.errors import ledger_text

MIN_SHARDS = 1
MAX_SHARDS = 8
#: Scale up when a shard runs above this share of its measured capacity, down when every
#: shard is below the lower one (the seed's 80 % and 40 %).
#: Loads are in millionths of the window, times in microseconds: integers, like the ledger.
PPM = 1_000_000
SCALE_UP_PPM = 800_000
SCALE_DOWN_PPM = 400_000
#: A shard is removed only when the others would then run below this (hysteresis).
SETTLED_PPM = (SCALE_UP_PPM + SCALE_DOWN_PPM) // 2
STRATEGIES = ("region", "energy", "load")


def shard_queue(base: str, shard: int) -> str:
    """The Celery queue of ``shard`` at a site whose default queue is ``base``."""
    return f"{base}-shard-{shard}"


def _spread(key: str, active: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % active


def shard_for(wire: dict, *, strategy: str, active: int, regions: list[str]) -> int:
    """The shard (0 to ``active`` - 1) a batch whose first transaction is ``wire`` goes to."""
    if active <= 1:
        return 0
    payload = wire.get("payload") if isinstance(wire.get("payload"), dict) else {}
    if strategy == "region":
        region = payload.get("zone") or payload.get("region")
        if isinstance(region, str) and region in regions:
            return regions.index(region) % active
    elif strategy == "energy":
        source = payload.get("source") or payload.get("kind")
        if isinstance(source, str) and source:
            return _spread(source, active)
    sender = wire.get("sender")
    return _spread(sender if isinstance(sender, str) else "", active)


@dataclass(frozen=True)
class ShardLoad:
    """What a shard did over the coordinator's window, as measured by its workers."""

    shard: int
    transactions: int
    busy_us: int
    waited_us: int
    batches: int
    backlog: int

    @property
    def capacity_tx_per_s(self) -> int | None:
        """Transactions a second the shard's workers admit while busy: its measured capacity."""
        return self.transactions * 1_000_000 // self.busy_us if self.busy_us > 0 else None

    def load_ppm(self, window_us: int) -> int:
        """The share of the window its workers were busy, the batches still queued counted at the
        window's mean time a batch."""
        queued_us = self.backlog * self.busy_us // self.batches if self.batches else 0
        return (self.busy_us + queued_us) * PPM // window_us

    def latency_us(self) -> int:
        """Mean time from a batch's arrival to its answer."""
        return (self.busy_us + self.waited_us) // self.batches if self.batches else 0


@dataclass(frozen=True)
class Decision:
    shards_from: int
    shards_to: int
    reason: str


def _percent(ppm: int) -> str:
    return f"{ppm // 10_000}%"


def scaling_decision(active: int, loads: list[ShardLoad], window_us: int) -> Decision:
    """Up one shard when one runs above SCALE_UP_PPM, down one when all run below SCALE_DOWN_PPM.

    The reason is an English sentence from a template of the catalogue: pages translate it
    (chain.refusals). Percentages go in as values: a literal per cent sign in a template reads
    as a format directive."""
    busiest = max(loads, key=lambda s: s.load_ppm(window_us), default=None)
    if busiest is None:
        return Decision(active, active, ledger_text("no load measured"))
    load = busiest.load_ppm(window_us)
    shown = {
        "shard": busiest.shard,
        "load": _percent(load),
        "up": _percent(SCALE_UP_PPM),
        "down": _percent(SCALE_DOWN_PPM),
    }
    if load > SCALE_UP_PPM:
        if active >= MAX_SHARDS:
            reason = ledger_text(
                "shard %(shard)s at %(load)s, already %(most)s shards", **shown, most=MAX_SHARDS
            )
            return Decision(active, active, reason)
        return Decision(
            active,
            active + 1,
            ledger_text("shard %(shard)s at %(load)s of its capacity, above %(up)s", **shown),
        )
    total = sum(s.load_ppm(window_us) for s in loads)
    # Down only when the work would keep one shard fewer below the middle of the band: a
    # shard added at 83 % leaves two near 40 %, and taking it away at once would add it back.
    if load < SCALE_DOWN_PPM and active > MIN_SHARDS and total // (active - 1) < SETTLED_PPM:
        return Decision(
            active, active - 1, ledger_text("every shard below %(down)s (busiest at %(load)s)", **shown)
        )
    return Decision(
        active, active, ledger_text("busiest shard at %(load)s: between %(down)s and %(up)s", **shown)
    )
