"""Settlement's ledger table, field for field settlement.ledger.delivery.SettlementAccount.

Written only by block application (chain.store); everything else reads it.
The table kept the name it had when settlement was part of the market.
"""

from django.db import models

from settlement.ledger import delivery


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
