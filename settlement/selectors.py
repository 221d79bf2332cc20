"""Settlement's read path: delivery records, carbon credits, certificates, a trade as settled."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, F, Max, Min, OuterRef, Q, Subquery, Sum, When

from chain.models import Block, ChainHead
from meters.models import SlotEnergy
from settlement.models import Certificate, CertificateStatus, SettlementAccount
from settlement.tariffs import at_utility_rates, tariffs_of
from trading.ledger.rules import RENEWABLE_SOURCES
from trading.models import Trade
from treasury.ledger.records import BURN, MINT
from treasury.models import Payment

PPM = 1_000_000


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


def carbon_supplied(*, address: str | None) -> dict:
    """CO2 the producers' delivered renewable trades avoided, per seller, largest first.

    The same grams credited to the buyers (Trade.delivered_carbon_g): a producer sees
    what its energy did, a buyer holds the credit. ``address`` None: every seller.
    """
    trades = Trade.objects.filter(settled_height__gt=0, source__in=sorted(RENEWABLE_SOURCES))
    if address is not None:
        trades = trades.filter(seller=address)
    rows = list(
        trades.values("seller")
        .annotate(delivered_wh=Sum("delivered_wh"), carbon_g=Sum("delivered_carbon_g"))
        .order_by("-carbon_g", "seller")
    )
    totals = trades.aggregate(delivered_wh=Sum("delivered_wh"), carbon_g=Sum("delivered_carbon_g"))
    return {"rows": rows, "totals": {k: v or 0 for k, v in totals.items()}}


def trade_get(*, trade_id: str) -> Trade | None:
    return Trade.objects.filter(trade_id=trade_id).first()


def certificates_of(*, address: str) -> dict:
    """An account's certificates: held ones (what it may transfer or claim) and claimed ones."""
    records = Certificate.objects.filter(holder=address)
    held = list(records.filter(status=CertificateStatus.HELD).order_by("-delivery_slot_ms", "certificate_id"))
    claimed = list(
        records.filter(status=CertificateStatus.CLAIMED).order_by("-claimed_height", "certificate_id")
    )
    return {
        "held": held,
        "claimed": claimed,
        "held_wh": sum(c.wh for c in held),
        "claimed_wh": sum(c.wh for c in claimed),
    }


def certificate_registry() -> dict:
    """The regulator's totals: issued = held + claimed, reconciled with metered renewable export.

    Every metered renewable Wh is certified once when its slot settles (to a P2P buyer
    or its producer), so what was issued is the metered export less what waits for
    its slot to settle. ``transferred_wh`` counts Wh now held or claimed by another
    account than the one the certificate was issued to (the buyer, or the producer).
    """
    by_status = dict(
        Certificate.objects.values_list("status").annotate(wh=Sum("wh")).values_list("status", "wh")
    )
    held, claimed = by_status.get(CertificateStatus.HELD, 0), by_status.get(CertificateStatus.CLAIMED, 0)
    to_producers = Certificate.objects.filter(trade_id="").aggregate(wh=Sum("wh"))["wh"] or 0
    delivered = (
        Trade.objects.filter(settled_height__gt=0)
        .filter(source__in=sorted(RENEWABLE_SOURCES))
        .aggregate(wh=Sum("delivered_wh"))["wh"]
        or 0
    )
    export = SlotEnergy.objects.aggregate(
        metered=Sum("renewable_export_wh"),
        awaiting=Sum(F("renewable_export_wh") - F("certified_wh"), filter=Q(uncertified_slot_ms__gt=0)),
    )
    metered, awaiting = export["metered"] or 0, export["awaiting"] or 0
    buyer = Trade.objects.filter(trade_id=OuterRef("trade_id")).values("buyer")[:1]
    transferred = (
        Certificate.objects.annotate(
            first_holder=Case(When(trade_id="", then=F("producer")), default=Subquery(buyer))
        )
        .exclude(holder=F("first_holder"))
        .aggregate(wh=Sum("wh"))["wh"]
        or 0
    )
    return {
        "issued_wh": held + claimed,
        "held_wh": held,
        "claimed_wh": claimed,
        "transferred_wh": transferred,
        "to_buyers_wh": held + claimed - to_producers,
        "to_producers_wh": to_producers,
        "delivered_renewable_wh": delivered,
        "metered_renewable_wh": metered,
        "awaiting_settlement_wh": awaiting,
        "difference_wh": held + claimed - (metered - awaiting),
    }


def certificates_list(*, status: str | None = None):
    records = Certificate.objects.order_by("-issued_height", "certificate_id")
    return records.filter(status=status) if status else records


def month_bounds_ms(year: int, month: int) -> tuple[int, int]:
    """[start, end) of a calendar month in the site's time zone (settings.TIME_ZONE), as ms."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def monthly_statement(*, address: str, year: int, month: int) -> dict:
    """One account's month, all integers (tokens in units, energy in Wh).

    Trades count by delivery slot in the month; a settled trade counts what was
    delivered and paid after refunds, an unsettled one what is held for it
    (``*_pending``). Top-ups, cash-outs and claims count by the block time of
    the block that made them.
    """
    start_ms, end_ms = month_bounds_ms(year, month)
    trades = Trade.objects.filter(delivery_slot_ms__gte=start_ms, delivery_slot_ms__lt=end_ms)
    bought, sold = trades.filter(buyer=address), trades.filter(seller=address)
    settled = {"settled_height__gt": 0}

    def sums(queryset, **values):
        return {k: v or 0 for k, v in queryset.aggregate(**values).items()}

    buy = sums(
        bought.filter(**settled),
        ordered_wh=Sum("energy_wh"),
        wh=Sum("delivered_wh"),
        paid=Sum("paid_tokens"),
        refunded=Sum("refund_tokens"),
    )
    sell = sums(
        sold.filter(**settled),
        ordered_wh=Sum("energy_wh"),
        wh=Sum("delivered_wh"),
        paid=Sum("paid_tokens"),
        refunded=Sum("refund_tokens"),
    )
    heights = Block.objects.filter(timestamp_ms__gte=start_ms, timestamp_ms__lt=end_ms).aggregate(
        low=Min("height"), high=Max("height")
    )
    in_month = {"height__gte": heights["low"] or 1, "height__lte": heights["high"] or 0}
    payments = Payment.objects.filter(account=address, **in_month)
    claims = Certificate.objects.filter(
        holder=address,
        status=CertificateStatus.CLAIMED,
        claimed_height__gte=in_month["height__gte"],
        claimed_height__lte=in_month["height__lte"],
    )
    statement = {
        "bought_wh": buy["wh"],
        "bought_short_wh": buy["ordered_wh"] - buy["wh"],
        "energy_cost": buy["paid"] - buy["refunded"],
        "refunds": buy["refunded"],
        "wheeling_fees": bought.aggregate(v=Sum("wheeling_fee_tokens"))["v"] or 0,
        "bought_pending_wh": bought.filter(settled_height=0).aggregate(v=Sum("energy_wh"))["v"] or 0,
        "cost_pending": bought.filter(settled_height=0).aggregate(v=Sum("paid_tokens"))["v"] or 0,
        "sold_wh": sell["wh"],
        "sold_short_wh": sell["ordered_wh"] - sell["wh"],
        "earned": sell["paid"] - sell["refunded"],
        "sold_pending_wh": sold.filter(settled_height=0).aggregate(v=Sum("energy_wh"))["v"] or 0,
        "earned_pending": sold.filter(settled_height=0).aggregate(v=Sum("paid_tokens"))["v"] or 0,
        "topups": payments.filter(direction=MINT).aggregate(v=Sum("amount"))["v"] or 0,
        "cashouts": payments.filter(direction=BURN).aggregate(v=Sum("amount"))["v"] or 0,
        "certificates_claimed_wh": claims.aggregate(v=Sum("wh"))["v"] or 0,
        "claims": list(claims.order_by("claimed_height", "certificate_id")),
    }
    statement["net"] = statement["earned"] - statement["energy_cost"] - statement["wheeling_fees"]
    statement.update(_against_the_utility(statement, bought, sold))
    statement.update(_kpis(statement, address, start_ms, end_ms, bought))
    return statement


def _delivered_by_slot(trades) -> dict[int, int]:
    rows = trades.filter(settled_height__gt=0).values("delivery_slot_ms").annotate(wh=Sum("delivered_wh"))
    return {row["delivery_slot_ms"]: row["wh"] or 0 for row in rows}


def _against_the_utility(statement: dict, bought, sold) -> dict:
    """The delivered Wh at the utility's rates (settlement.tariffs): savings and extra earnings."""
    rates = tariffs_of(ChainHead.objects.only("params").get().params)
    buy = at_utility_rates(_delivered_by_slot(bought), rates)
    sell = at_utility_rates(_delivered_by_slot(sold), rates)
    # Like with like: what the settled Wh cost on the market, their wheeling fees included.
    settled_fees = bought.filter(settled_height__gt=0).aggregate(v=Sum("wheeling_fee_tokens"))["v"] or 0
    market_cost = statement["energy_cost"] + settled_fees
    return {
        "tariffs": rates,
        "bought_peak_wh": buy.peak_wh,
        "utility_flat_cost": buy.flat_cost,
        "utility_tou_cost": buy.tou_cost,
        "saved_vs_flat": buy.flat_cost - market_cost,
        "saved_vs_tou": buy.tou_cost - market_cost,
        "buyback_value": sell.buyback_value,
        "earned_beyond_buyback": statement["earned"] - sell.buyback_value,
    }


def _kpis(statement: dict, address: str, start_ms: int, end_ms: int, bought) -> dict:
    """The member's and the community's shares of the month, in ppm (None: nothing to divide by).

    From the meters (net import and export at each connection) and settled trades:
    self-sufficiency is the share of metered import that came from the market,
    self-consumption the share of metered export the market took, the renewable share
    the part of metered import bought from renewable sources.
    """
    slots = SlotEnergy.objects.filter(delivery_slot_ms__gte=start_ms, delivery_slot_ms__lt=end_ms)
    trades = Trade.objects.filter(
        delivery_slot_ms__gte=start_ms, delivery_slot_ms__lt=end_ms, settled_height__gt=0
    )
    renewable = {"source__in": sorted(RENEWABLE_SOURCES)}
    mine = slots.filter(owner=address).aggregate(imported=Sum("import_wh"), exported=Sum("export_wh"))
    community = slots.aggregate(imported=Sum("import_wh"), exported=Sum("export_wh"))
    traded = trades.aggregate(wh=Sum("delivered_wh"), renewable=Sum("delivered_wh", filter=Q(**renewable)))
    own_renewable = bought.filter(settled_height__gt=0, **renewable).aggregate(wh=Sum("delivered_wh"))["wh"]
    return {
        "metered_import_wh": mine["imported"] or 0,
        "metered_export_wh": mine["exported"] or 0,
        "self_sufficiency_ppm": _share(statement["bought_wh"], mine["imported"]),
        "self_consumption_ppm": _share(statement["sold_wh"], mine["exported"]),
        "renewable_share_ppm": _share(own_renewable or 0, mine["imported"]),
        "community_import_wh": community["imported"] or 0,
        "community_traded_wh": traded["wh"] or 0,
        "community_self_sufficiency_ppm": _share(traded["wh"] or 0, community["imported"]),
        "community_self_consumption_ppm": _share(traded["wh"] or 0, community["exported"]),
        "community_renewable_share_ppm": _share(traded["renewable"] or 0, community["imported"]),
    }


def _share(part: int, whole: int | None) -> int | None:
    """``part`` of ``whole`` in ppm, at most all of it (a trade can be delivered to an unmetered buyer)."""
    if not whole:
        return None
    return min(part, whole) * PPM // whole
