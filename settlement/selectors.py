"""Settlement's read path: delivery records, carbon credits, and a trade as settled."""

from django.db.models import Sum

from settlement.models import SettlementAccount
from trading.models import Trade


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
