"""The treasury's tables: three ledger tables (written only by block application) and top-up requests.

``Payment``, ``CashOut`` and ``TopUp`` are field for field the records of treasury.ledger.records.
``TopUpRequest`` is this site's own, off chain: a person asked to pay an amount
with a reference, and the issuer's staff (or the demo's automatic confirmation)
answered. Amounts in units (10^-6 token).
"""

from django.conf import settings
from django.db import models

from treasury.ledger import records


class Direction(models.TextChoices):
    MINT = records.MINT, "Mint (top-up)"
    BURN = records.BURN, "Burn (cash-out)"


class CashOutStatus(models.TextChoices):
    OPEN = records.OPEN, "Waiting for the issuer"
    BURNT = records.BURNT, "Paid out"
    RELEASED = records.RELEASED, "Refused, tokens returned"


class Payment(models.Model):
    ledger_record = records.Payment

    reference = models.CharField(max_length=20, primary_key=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    account = models.CharField(max_length=64, db_index=True)
    amount = models.BigIntegerField()
    issuer = models.CharField(max_length=64)
    height = models.BigIntegerField(db_index=True)
    tx_hash = models.CharField(max_length=64)
    cashout_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-height", "reference"]

    def __str__(self) -> str:
        return f"{self.direction} {self.amount} {self.reference}"


class CashOut(models.Model):
    ledger_record = records.CashOut

    cashout_id = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=64, db_index=True)
    amount = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=CashOutStatus.choices, db_index=True)
    requested_height = models.BigIntegerField()
    closed_height = models.BigIntegerField(default=0)
    issuer = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-requested_height", "cashout_id"]

    def __str__(self) -> str:
        return f"cash-out {self.cashout_id[:12]} {self.status}"


class TopUpAskedStatus(models.TextChoices):
    OPEN = records.OPEN, "Waiting for the issuer"
    MINTED = records.MINTED, "Minted"
    REFUSED = records.REFUSED, "Refused"


class TopUp(models.Model):
    """A top-up asked for on chain by a site that does not issue (the issuer's queue on every site)."""

    ledger_record = records.TopUp

    reference = models.CharField(max_length=20, primary_key=True)
    account = models.CharField(max_length=64, db_index=True)
    amount = models.BigIntegerField()
    site = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=TopUpAskedStatus.choices, db_index=True)
    requested_height = models.BigIntegerField()
    closed_height = models.BigIntegerField(default=0)
    issuer = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-requested_height", "reference"]

    def __str__(self) -> str:
        return f"top-up {self.reference} asked on chain, {self.status}"


class TopUpStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the issuer"
    RELAYED = "relayed", "Asked on chain: waiting for the issuer"
    CONFIRMED = "confirmed", "Confirmed: tokens minted"
    REFUSED = "refused", "Refused"


class TopUpRequest(models.Model):
    """A person's request to buy tokens: they pay ``amount`` baht quoting ``reference``.

    Confirmation signs a token_mint with this reference; the chain refuses a reference
    used twice, so a request can never be credited twice, whatever this table says.
    At a site that does not issue, the request is ``relayed``: this site's node key
    signed its topup_request (``request_tx_hash``), and the chain's TopUp record says
    how the issuer answered.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="topups")
    address = models.CharField(max_length=64)
    amount = models.BigIntegerField()
    reference = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=10, choices=TopUpStatus.choices, default=TopUpStatus.PENDING)
    reason = models.CharField(max_length=200, blank=True)
    mint_tx_hash = models.CharField(max_length=64, blank=True)
    request_tx_hash = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="topup_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="refused") | ~models.Q(reason=""), name="topup_refusal_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"top-up {self.reference} {self.status}"
