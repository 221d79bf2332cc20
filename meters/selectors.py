"""The meters' read path: the registry and readings (delivery records are settlement's)."""

from chain.models import ChainTx
from meters.models import Meter

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
