"""The market's ledger tables, field for field the records of trading.ledger.records.

Written only by block application (chain.store, one upsert per table per
block); everything else reads them. Money in units (10^-6 token), energy in
Wh, prices and fees in units per kWh, times in Unix ms.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from trading.ledger import agreements, records


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class TakerSide(models.TextChoices):
    """Which order arrived to make a trade, or neither: a call auction cleared both."""

    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    CALL = "call", "Call auction"


class OrderStatus(models.TextChoices):
    OPEN = records.OPEN, "Open"
    FILLED = records.FILLED, "Filled"
    CANCELLED = records.CANCELLED, "Cancelled"
    EXPIRED = records.EXPIRED, "Expired"
    GATE_CLOSED = records.GATE_CLOSED, "Gate closed"


class Order(models.Model):
    ledger_record = records.Order

    order_id = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=64)
    side = models.CharField(max_length=4, choices=Side.choices)
    zone = models.CharField(max_length=32)
    delivery_slot_ms = models.BigIntegerField()
    price_per_kwh = models.BigIntegerField()
    energy_wh = models.BigIntegerField()
    remaining_wh = models.BigIntegerField()
    source = models.CharField(max_length=16, blank=True)
    accepts = models.CharField(max_length=64, blank=True)
    #: The only account the order trades with (a private deal), or "" for anyone.
    counterparty = models.CharField(max_length=64, blank=True, default="")
    max_fee_per_kwh = models.BigIntegerField()
    escrow_tokens = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    placed_height = models.BigIntegerField()
    seq = models.BigIntegerField()
    placed_ms = models.BigIntegerField()
    expires_ms = models.BigIntegerField()
    closed_height = models.BigIntegerField()
    open_slot_ms = models.BigIntegerField()
    open_expires_ms = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="order_amounts_in_range",
                condition=Q(remaining_wh__gte=0)
                & Q(remaining_wh__lte=F("energy_wh"))
                & Q(escrow_tokens__gte=0)
                & Q(price_per_kwh__gt=0),
            )
        ]
        indexes = [
            # The matcher's and the expiry sweep's range reads cover open orders only.
            models.Index(fields=["open_slot_ms"], name="order_open_slot", condition=Q(open_slot_ms__gt=0)),
            models.Index(
                fields=["open_expires_ms"], name="order_open_expiry", condition=Q(open_expires_ms__gt=0)
            ),
            models.Index(fields=["owner", "status"], name="order_owner_status"),
            # The deals offered to an account: open orders that name it.
            models.Index(
                fields=["counterparty"],
                name="order_open_deal",
                condition=Q(open_slot_ms__gt=0) & ~Q(counterparty=""),
            ),
            models.Index(fields=["delivery_slot_ms", "zone"], name="order_slot_zone"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.energy_wh} Wh @ {self.price_per_kwh} ({self.order_id[:10]}…)"


class Trade(models.Model):
    """A fill. Its proceeds are held until settlement pays the seller for what was delivered."""

    ledger_record = records.Trade

    trade_id = models.CharField(max_length=64, primary_key=True)
    height = models.BigIntegerField()
    seq = models.BigIntegerField()
    timestamp_ms = models.BigIntegerField()
    delivery_slot_ms = models.BigIntegerField()
    buy_order_id = models.CharField(max_length=64)
    sell_order_id = models.CharField(max_length=64)
    buyer = models.CharField(max_length=64)
    seller = models.CharField(max_length=64)
    taker_side = models.CharField(max_length=4, choices=TakerSide.choices)
    buyer_zone = models.CharField(max_length=32)
    seller_zone = models.CharField(max_length=32)
    source = models.CharField(max_length=16)
    energy_wh = models.BigIntegerField()
    price_per_kwh = models.BigIntegerField()
    paid_tokens = models.BigIntegerField()
    wheeling_fee_tokens = models.BigIntegerField()
    carbon_g = models.BigIntegerField()
    unsettled_slot_ms = models.BigIntegerField(default=0)
    delivered_wh = models.BigIntegerField(default=0)
    refund_tokens = models.BigIntegerField(default=0)
    delivered_carbon_g = models.BigIntegerField(default=0)
    settled_height = models.BigIntegerField(default=0)
    route = models.TextField(default="", blank=True)

    class Meta:
        ordering = ["-height", "-seq"]
        constraints = [
            models.CheckConstraint(name="trade_energy_positive", condition=Q(energy_wh__gt=0)),
            models.UniqueConstraint(fields=["height", "seq"], name="trade_height_seq"),
            models.CheckConstraint(
                name="trade_delivered_in_range",
                condition=Q(delivered_wh__gte=0)
                & Q(delivered_wh__lte=F("energy_wh"))
                & Q(refund_tokens__gte=0),
            ),
        ]
        indexes = [
            # Settlement's range read covers unsettled trades only.
            models.Index(
                fields=["unsettled_slot_ms"], name="trade_unsettled", condition=Q(unsettled_slot_ms__gt=0)
            ),
            models.Index(fields=["delivery_slot_ms", "-height", "-seq"], name="trade_slot_recent"),
            models.Index(fields=["buyer", "-height"], name="trade_buyer_recent"),
            models.Index(fields=["seller", "-height"], name="trade_seller_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.energy_wh} Wh @ {self.price_per_kwh} (#{self.height})"

    @property
    def seller_earned_tokens(self) -> int:
        """What the seller has been paid: nothing before settlement, then the delivered part."""
        return self.paid_tokens - self.refund_tokens if self.settled_height else 0

    @property
    def buyer_cost_tokens(self) -> int:
        """What the buyer is out of pocket: price and wheeling fee, less any refund for a shortfall."""
        return self.paid_tokens + self.wheeling_fee_tokens - self.refund_tokens

    route_zones = records.Trade.route_zones


class LineUsage(models.Model):
    ledger_record = records.LineUsage

    usage_id = models.CharField(max_length=80, primary_key=True)
    delivery_slot_ms = models.BigIntegerField()
    zone_a = models.CharField(max_length=32)
    zone_b = models.CharField(max_length=32)
    used_wh = models.BigIntegerField()
    capacity_wh = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="line_usage_within_capacity",
                condition=Q(used_wh__gte=0) & Q(used_wh__lte=F("capacity_wh")),
            )
        ]
        indexes = [models.Index(fields=["delivery_slot_ms"], name="line_usage_slot")]

    def __str__(self) -> str:
        return self.usage_id


class CallClearing(models.Model):
    ledger_record = records.CallClearing

    clearing_id = models.CharField(max_length=60, primary_key=True)
    delivery_slot_ms = models.BigIntegerField()
    zone = models.CharField(max_length=32)
    height = models.BigIntegerField()
    price_per_kwh = models.BigIntegerField()
    volume_wh = models.BigIntegerField()
    fills = models.BigIntegerField()
    bids = models.BigIntegerField()
    asks = models.BigIntegerField()
    bid_wh = models.BigIntegerField()
    ask_wh = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["zone", "-delivery_slot_ms"], name="call_clearing_zone_recent")]

    def __str__(self) -> str:
        return self.clearing_id


class AgreementStatus(models.TextChoices):
    OFFERED = agreements.OFFERED, _("Offered")
    ACTIVE = agreements.ACTIVE, _("Active")
    COMPLETED = agreements.COMPLETED, _("Completed")
    ENDED = agreements.ENDED, _("Ended")
    WITHDRAWN = agreements.WITHDRAWN, _("Withdrawn")
    DECLINED = agreements.DECLINED, _("Declined")


class Agreement(models.Model):
    ledger_record = agreements.Agreement

    agreement_id = models.CharField(max_length=64, primary_key=True)
    offered_by = models.CharField(max_length=64)
    seller = models.CharField(max_length=64)
    buyer = models.CharField(max_length=64)
    zone = models.CharField(max_length=32)
    source = models.CharField(max_length=16)
    energy_wh = models.BigIntegerField()
    price_per_kwh = models.BigIntegerField()
    first_slot_ms = models.BigIntegerField()
    last_slot_ms = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=AgreementStatus.choices)
    created_height = models.BigIntegerField()
    accepted_height = models.BigIntegerField()
    closed_height = models.BigIntegerField()
    next_slot_ms = models.BigIntegerField()
    slots_placed = models.BigIntegerField()
    slots_missed = models.BigIntegerField()
    due_ms = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["seller", "-created_height"], name="agreement_seller_recent"),
            models.Index(fields=["buyer", "-created_height"], name="agreement_buyer_recent"),
            models.Index(fields=["due_ms"], name="agreement_due"),
        ]

    def __str__(self) -> str:
        return self.agreement_id


class CallOrders(models.Model):
    ledger_record = records.CallOrders

    call_id = models.CharField(max_length=60, primary_key=True)
    delivery_slot_ms = models.BigIntegerField()
    zone = models.CharField(max_length=32)
    placed = models.BigIntegerField()

    def __str__(self) -> str:
        return self.call_id
