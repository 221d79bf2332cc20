"""What the audit app keeps: verification runs and the balances a replay recomputed.

Nothing here is ledger state: these rows record what a regulator's independent
check found, and are written only by the verification task.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class VerificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Could not finish"


class ChainVerification(models.Model):
    """One run of verify-the-chain; its progress is updated while the task runs."""

    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    replay = models.BooleanField(default=False)
    status = models.CharField(
        max_length=8, choices=VerificationStatus.choices, default=VerificationStatus.QUEUED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    #: When the run last saved progress (or was queued): a run silent for too long was abandoned.
    progress_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    #: The chain's height when the run started: blocks 1..target_height are checked.
    target_height = models.BigIntegerField(default=0)
    checked_height = models.BigIntegerField(default=0)
    transactions_checked = models.BigIntegerField(default=0)
    signatures_checked = models.BigIntegerField(default=0)
    precommits_checked = models.BigIntegerField(default=0)
    first_bad_height = models.BigIntegerField(null=True)
    #: Why the first bad block is bad (every problem found in it), or why the run stopped.
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                name="verification_progress_in_range",
                condition=Q(checked_height__gte=0) & Q(checked_height__lte=models.F("target_height")),
            )
        ]

    def __str__(self) -> str:
        return f"verification {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (VerificationStatus.PASSED, VerificationStatus.FAILED, VerificationStatus.ERROR)

    @property
    def percent(self) -> int:
        return 100 if not self.target_height else self.checked_height * 100 // self.target_height


class AccountSnapshot(models.Model):
    """An account's balances after a block, as a replay from genesis recomputed them.

    Written by replaying verifications (only for accounts a block changed), read
    by the per-account ledger history. Units of 10^-6 token, Wh.
    """

    address = models.CharField(max_length=64)
    height = models.BigIntegerField()
    timestamp_ms = models.BigIntegerField()
    balance = models.BigIntegerField()
    staked = models.BigIntegerField()
    escrow_tokens = models.BigIntegerField()
    energy_wh = models.BigIntegerField()
    escrow_wh = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address", "height"], name="snapshot_address_height")]

    def __str__(self) -> str:
        return f"{self.address[:10]}… at #{self.height}"
