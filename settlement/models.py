"""Settlement's ledger table, field for field settlement.ledger.delivery.SettlementAccount.

Written only by block application (chain.store); everything else reads it.
The table kept the name it had when settlement was part of the market.
"""

from django.db import models

from settlement.ledger import certificates, delivery


class SettlementAccount(models.Model):
    """Per account: delivery record as a seller (reputation) and as a buyer (carbon credits)."""

    ledger_record = delivery.SettlementAccount

    address = models.CharField(max_length=64, primary_key=True)
    sold_wh = models.BigIntegerField(default=0)
    delivered_wh = models.BigIntegerField(default=0)
    shortfall_wh = models.BigIntegerField(default=0)
    reputation_ppm = models.BigIntegerField(default=1_000_000)
    bought_wh = models.BigIntegerField(default=0)
    received_wh = models.BigIntegerField(default=0)
    renewable_received_wh = models.BigIntegerField(default=0)
    carbon_g = models.BigIntegerField(default=0)

    class Meta:
        db_table = "trading_settlementaccount"

    def __str__(self) -> str:
        return f"settlement record of {self.address[:10]}…"


class CertificateStatus(models.TextChoices):
    HELD = certificates.HELD, "Held"
    CLAIMED = certificates.CLAIMED, "Claimed"


class Certificate(models.Model):
    """A renewable energy certificate, field for field settlement.ledger.certificates.Certificate."""

    ledger_record = certificates.Certificate

    certificate_id = models.CharField(max_length=64, primary_key=True)
    origin_id = models.CharField(max_length=64, db_index=True)
    trade_id = models.CharField(max_length=64, blank=True)
    holder = models.CharField(max_length=64, db_index=True)
    producer = models.CharField(max_length=64, db_index=True)
    delivery_slot_ms = models.BigIntegerField()
    source = models.CharField(max_length=32)
    zone = models.CharField(max_length=32)
    wh = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=CertificateStatus.choices, db_index=True)
    issued_height = models.BigIntegerField()
    beneficiary = models.CharField(max_length=certificates.BENEFICIARY_MAX, blank=True)
    claimed_height = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-delivery_slot_ms", "certificate_id"]

    def __str__(self) -> str:
        return f"certificate {self.certificate_id[:12]} {self.wh} Wh {self.status}"
