"""Governance's ledger tables, field for field the records of governance.ledger.records.

Written only by block application (chain.store, one upsert per table per
block); everything else reads them. Stake in units (10^-6 token), heights in blocks.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from governance.ledger import records


class ProposalStatus(models.TextChoices):
    OPEN = records.OPEN, _("Open")
    PASSED = records.PASSED, _("Passed")
    REJECTED = records.REJECTED, _("Rejected")
    EXECUTED = records.EXECUTED, _("Executed")
    FAILED = records.FAILED, _("Failed")


class VoteOption(models.TextChoices):
    YES = records.YES, _("Yes")
    NO = records.NO, _("No")
    ABSTAIN = records.ABSTAIN, _("Abstain")


class Proposal(models.Model):
    ledger_record = records.Proposal

    proposal_id = models.CharField(max_length=64, primary_key=True)
    number = models.BigIntegerField(unique=True)
    proposer = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    action = models.CharField(max_length=32)
    action_args = models.TextField()
    created_height = models.BigIntegerField()
    voting_end_height = models.BigIntegerField()
    execute_height = models.BigIntegerField()
    quorum_ppm = models.BigIntegerField()
    threshold_ppm = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=ProposalStatus.choices)
    yes_stake = models.BigIntegerField(default=0)
    no_stake = models.BigIntegerField(default=0)
    abstain_stake = models.BigIntegerField(default=0)
    total_stake = models.BigIntegerField(default=0)
    voters = models.BigIntegerField(default=0)
    tallied_height = models.BigIntegerField(default=0)
    executed_height = models.BigIntegerField(default=0)
    effective_height = models.BigIntegerField(default=0)
    outcome = models.TextField(blank=True)
    open_end_height = models.BigIntegerField(default=0, db_index=True)
    due_execute_height = models.BigIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"


class Vote(models.Model):
    ledger_record = records.Vote

    vote_id = models.CharField(max_length=129, primary_key=True)
    proposal_id = models.CharField(max_length=64)
    proposal_number = models.BigIntegerField(db_index=True)
    voter = models.CharField(max_length=64)
    option = models.CharField(max_length=8, choices=VoteOption.choices)
    height = models.BigIntegerField()
    changes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-height", "vote_id"]

    def __str__(self) -> str:
        return f"{self.voter[:12]} {self.option} on #{self.proposal_number}"


class Counter(models.Model):
    ledger_record = records.Counter

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
