"""The meters' read path: the registry, readings, and the delivery and carbon records of settlement."""

from django.db.models import Sum

from chain.models import ChainTx
from meters.models import Meter
from trading.models import SettlementAccount, Trade

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


def settlement_record(*, address: str) -> SettlementAccount | None:
    return SettlementAccount.objects.filter(address=address).first()


def carbon_report(*, address: str | None) -> dict:
    """Carbon credits per buyer (g CO2 avoided by delivered renewable Wh), largest first.

    ``address`` None: every account (regulators and staff); else that account only.
    """
    records = SettlementAccount.objects.filter(bought_wh__gt=0)
    if address is not None:
        records = records.filter(address=address)
    rows = list(records.order_by("-carbon_g", "address"))
    totals = records.aggregate(
        carbon_g=Sum("carbon_g"), received_wh=Sum("received_wh"), renewable_wh=Sum("renewable_received_wh")
    )
    return {"rows": rows, "totals": {k: v or 0 for k, v in totals.items()}}


def trade_get(*, trade_id: str) -> Trade | None:
    return Trade.objects.filter(trade_id=trade_id).first()


def sellers_reputation(*, addresses) -> dict[str, SettlementAccount]:
    return {r.address: r for r in SettlementAccount.objects.filter(address__in=set(addresses))}
