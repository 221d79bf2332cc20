"""The grid's write path: the demo simulator's report each second, the operator's path limits.

Both are transactions signed with this site's node key (an authority's key on
an authority site; EGAT's, the grid operator's, in the demo). Nothing here
decides a figure: block application does (grid.ledger).
"""

import random
import time

from django.core.cache import cache

from chain.ledger.errors import Refused
from chain.ledger.tx import Transaction
from chain.models import ChainHead, MempoolTx
from chain.node import node_address, node_signing_key
from chain.selectors import authority_get
from chain.services.signing import transaction_sign_submit
from grid import simulator
from grid.ledger.rules import NOT_GRID_OPERATOR, grid_rules_of
from grid.models import RegionStatus
from trading.models import LineUsage

SIM_THERMAL_KEY = "grid:sim:thermal_mw"
MAX_PENDING_REPORTS = 3


def node_is_authority() -> bool:
    return authority_get(public_key=node_address()) is not None


def node_is_grid_operator(params: dict | None = None) -> bool:
    params = params or ChainHead.objects.only("params").get().params
    return params["grid_operator"] == node_address()


def _node_submit(*, kind: str, payload: dict) -> Transaction:
    """Sign with the node key at its next free nonce and admit; Refused says why not."""
    return transaction_sign_submit(key=node_signing_key(), kind=kind, payload=payload)


def grid_report_tick(*, now_ms: int | None = None, rng: random.Random | None = None) -> Transaction | None:
    """One simulated report of every region, signed by the node key; None if it is no authority."""
    if not node_is_authority():
        return None
    if MempoolTx.objects.filter(sender=node_address(), kind="grid_report").count() >= MAX_PENDING_REPORTS:
        return None  # blocks are not coming: do not pile up reports that would go stale
    params = ChainHead.objects.only("params").get().params
    rules = grid_rules_of(params)
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    latest = RegionStatus.objects.order_by("-time_ms").first()
    previous = None
    if latest is not None:
        previous = simulator.Previous(latest.time_ms, latest.frequency_mhz, cache.get(SIM_THERMAL_KEY))
        now_ms = max(now_ms, latest.time_ms + 1)  # a report must be newer than the last
    slot_ms = now_ms // rules.slot_ms * rules.slot_ms
    traded = {f"{u.zone_a}:{u.zone_b}": u.used_wh for u in LineUsage.objects.filter(delivery_slot_ms=slot_ms)}
    payload, thermal_mw = simulator.simulate(
        time_ms=now_ms,
        previous=previous,
        regions=params["regions"],
        transmission=params["transmission"],
        traded_wh=traded,
        slot_ms=rules.slot_ms,
        rng=rng or random.Random(),
    )
    tx = _node_submit(kind="grid_report", payload=payload)
    cache.set(SIM_THERMAL_KEY, thermal_mw, timeout=60)
    return tx


def path_limit_set(
    *,
    zone_a: str,
    zone_b: str,
    from_slot: int,
    congested: bool,
    until_slot: int = 0,
    capacity_mw: int | None = None,
    reason: str = "",
) -> Transaction:
    """The grid operator's limit on a path from ``from_slot`` (until ``until_slot``, 0 for none)."""
    if not node_is_grid_operator():
        raise Refused(NOT_GRID_OPERATOR, "This site's node key is not the grid operator's.")
    payload = {"zone_a": zone_a, "zone_b": zone_b, "from_slot": from_slot, "congested": congested}
    if until_slot:
        payload["until_slot"] = until_slot
    if capacity_mw is not None:
        payload["capacity_mw"] = capacity_mw
    if reason:
        payload["reason"] = reason
    return _node_submit(kind="grid_path_limit", payload=payload)
