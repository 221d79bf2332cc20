"""The meters' ledger tables, field for field the records of meters.ledger.records.

Written only by block application (chain.store, one upsert per table per
block); everything else reads them. Energy in Wh, power in W, money in units.
``MeterRequest`` is this site's own, off chain.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from meters.ledger import records
from meters.ledger.kinds import MAX_RATED_CAPACITY_W


class MeterKind(models.TextChoices):
    SOLAR = "solar", "Solar"
    WIND = "wind", "Wind"
    HYDRO = "hydro", "Hydro"
    BIOMASS = "biomass", "Biomass"
    CONSUMPTION = "consumption", "Consumption"


class Meter(models.Model):
    ledger_record = records.Meter

    meter_id = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=64)
    region = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=MeterKind.choices)
    rated_capacity_w = models.BigIntegerField()
    registered_by = models.CharField(max_length=64)
    registered_height = models.BigIntegerField()
    revoked_height = models.BigIntegerField()
    last_window_start_ms = models.BigIntegerField()
    last_window_end_ms = models.BigIntegerField()
    readings = models.BigIntegerField()
    import_wh_total = models.BigIntegerField()
    export_wh_total = models.BigIntegerField()
    minted_wh_total = models.BigIntegerField()
    minted_units_total = models.BigIntegerField()
    reward_carry = models.BigIntegerField()

    class Meta:
        ordering = ["region", "meter_id"]
        constraints = [
            models.CheckConstraint(
                name="meter_amounts_in_range",
                condition=Q(rated_capacity_w__gt=0)
                & Q(import_wh_total__gte=0)
                & Q(export_wh_total__gte=0)
                & Q(reward_carry__gte=0),
            )
        ]
        indexes = [models.Index(fields=["owner"], name="meter_owner")]

    def __str__(self) -> str:
        return f"{self.kind} meter {self.meter_id[:10]}…"

    @property
    def active(self) -> bool:
        return not self.revoked_height

    @property
    def renewable(self) -> bool:
        return self.kind in records.RENEWABLE_KINDS


class SlotEnergy(models.Model):
    ledger_record = records.SlotEnergy

    slot_energy_id = models.CharField(max_length=96, primary_key=True)
    owner = models.CharField(max_length=64)
    delivery_slot_ms = models.BigIntegerField()
    import_wh = models.BigIntegerField()
    export_wh = models.BigIntegerField()
    renewable_export_wh = models.BigIntegerField()
    renewable_source = models.CharField(max_length=16, blank=True, default="")
    zone = models.CharField(max_length=32, blank=True, default="")
    certified_wh = models.BigIntegerField(default=0)
    uncertified_slot_ms = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "delivery_slot_ms"], name="slot_energy_owner"),
            # Settlement's range read covers export still waiting for certificates only.
            models.Index(
                fields=["uncertified_slot_ms"],
                name="slot_energy_uncertified",
                condition=models.Q(uncertified_slot_ms__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return self.slot_energy_id


class MeterRequestStatus(models.TextChoices):
    REQUESTED = "requested", "Waiting for the utility"
    APPROVED = "approved", "Approved: registration signed"
    REFUSED = "refused", "Refused"


#: The only moves a request makes, each once: the utility approves or refuses what waits.
METER_REQUEST_TRANSITIONS = {
    MeterRequestStatus.REQUESTED: (MeterRequestStatus.APPROVED, MeterRequestStatus.REFUSED),
    MeterRequestStatus.APPROVED: (),
    MeterRequestStatus.REFUSED: (),
}


class MeterRequest(models.Model):
    """A producer's request that the region's utility register their meter (this site's own, off chain).

    Approval signs the utility's meter_register (``register_tx_hash``); the meter is
    registered once that transaction is in a block, which the Meter table says. The
    columns hold exactly what meter_register accepts (key 64 lowercase hex, W as a
    whole number from 1 to MAX_RATED_CAPACITY_W); the constraints say so too.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meter_requests"
    )
    owner = models.CharField(max_length=64)
    device_key = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=MeterKind.choices)
    rated_capacity_w = models.BigIntegerField()
    region = models.CharField(max_length=32)
    status = models.CharField(
        max_length=10, choices=MeterRequestStatus.choices, default=MeterRequestStatus.REQUESTED
    )
    reason = models.CharField(max_length=200, blank=True)
    register_tx_hash = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="meter_request_capacity_in_range",
                condition=Q(rated_capacity_w__gt=0) & Q(rated_capacity_w__lte=MAX_RATED_CAPACITY_W),
            ),
            models.CheckConstraint(
                name="meter_request_key_is_hex64", condition=Q(device_key__regex=r"^[0-9a-f]{64}$")
            ),
            models.CheckConstraint(
                name="meter_request_refusal_has_reason",
                condition=~Q(status=MeterRequestStatus.REFUSED) | ~Q(reason=""),
            ),
            models.CheckConstraint(
                name="meter_request_approval_has_tx",
                condition=~Q(status=MeterRequestStatus.APPROVED) | ~Q(register_tx_hash=""),
            ),
            models.CheckConstraint(
                name="meter_request_decided_when",
                condition=Q(status=MeterRequestStatus.REQUESTED, decided_at__isnull=True)
                | (~Q(status=MeterRequestStatus.REQUESTED) & Q(decided_at__isnull=False)),
            ),
            # One live request per device key: a refused key may be asked for again.
            models.UniqueConstraint(
                fields=["device_key"],
                condition=~Q(status=MeterRequestStatus.REFUSED),
                name="meter_request_one_live_per_key",
            ),
        ]
        indexes = [models.Index(fields=["region", "status"], name="meter_request_queue")]

    def __str__(self) -> str:
        return f"meter request {self.device_key[:10]}… {self.status}"
