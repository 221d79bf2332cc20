"""The meters' read path: the registry, readings and meter requests (delivery records are settlement's)."""

from chain.models import ChainTx
from meters.models import Meter, MeterRequest, MeterRequestStatus

READINGS_SHOWN = 50


def meter_get(*, meter_id: str) -> Meter | None:
    return Meter.objects.filter(meter_id=meter_id).first()


def meters_of(*, owner: str | None) -> list[Meter]:
    """An owner's meters, or every meter when ``owner`` is None (regulators and staff)."""
    meters = Meter.objects.all()
    return list(meters if owner is None else meters.filter(owner=owner))


def readings_recent(*, meter_id: str, limit: int = READINGS_SHOWN) -> list[dict]:
    """The meter's latest readings as committed, refused ones with their reason, newest first.

    A reading is its transaction: the chain keeps it with its receipt.
    """
    rows = (
        ChainTx.objects.filter(sender=meter_id, kind="meter_reading")
        .order_by("-nonce")
        .values("hash", "block_id", "payload", "ok", "error_code", "error_message")[:limit]
    )
    return [{**row["payload"], **row, "height": row["block_id"]} for row in rows]


def meter_totals(meters: list[Meter]) -> dict:
    return {
        "count": len(meters),
        "active": sum(1 for m in meters if m.active),
        "export_wh": sum(m.export_wh_total for m in meters),
        "import_wh": sum(m.import_wh_total for m in meters),
        "minted_wh": sum(m.minted_wh_total for m in meters),
        "minted_units": sum(m.minted_units_total for m in meters),
    }


def _with_progress(requests: list[MeterRequest]) -> list[MeterRequest]:
    """Each request with ``registered_height`` (its meter is on chain) or ``chain_error`` (its
    meter_register failed in its block), read from the ledger, not from this site's row."""
    keys = [r.device_key for r in requests if r.status == MeterRequestStatus.APPROVED]
    heights = dict(Meter.objects.filter(meter_id__in=keys).values_list("meter_id", "registered_height"))
    failed = dict(
        ChainTx.objects.filter(
            hash__in=[r.register_tx_hash for r in requests if r.register_tx_hash], ok=False
        ).values_list("hash", "error_message")
    )
    for request in requests:
        request.registered_height = heights.get(request.device_key, 0) if request.register_tx_hash else 0
        request.chain_error = failed.get(request.register_tx_hash, "")
    return requests


def meter_requests_of(*, user, limit: int = 20) -> list[MeterRequest]:
    """A producer's requests, newest first, with where each stands on the chain."""
    return _with_progress(list(MeterRequest.objects.filter(user=user)[:limit]))


def meter_request_queue(*, regions: list[str] | None) -> list[MeterRequest]:
    """Waiting requests of ``regions`` (every region when None: the regulator), oldest first."""
    waiting = MeterRequest.objects.filter(status=MeterRequestStatus.REQUESTED).select_related("user")
    if regions is not None:
        waiting = waiting.filter(region__in=regions)
    return list(waiting.order_by("created_at", "id"))


def meter_requests_decided(*, regions: list[str] | None, limit: int = 20) -> list[MeterRequest]:
    decided = MeterRequest.objects.exclude(status=MeterRequestStatus.REQUESTED).select_related(
        "user", "decided_by"
    )
    if regions is not None:
        decided = decided.filter(region__in=regions)
    return _with_progress(list(decided[:limit]))
