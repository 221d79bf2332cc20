"""SettlementAccount moves from trading to settlement: its table, trading_settlementaccount, stays.

Only Django's model state changes (trading 0004 forgets the model, this creates
it over the existing table); the database is not touched.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("trading", "0003_ledger_integers_are_bigint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SettlementAccount",
                    fields=[
                        ("address", models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ("sold_wh", models.BigIntegerField(default=0)),
                        ("delivered_wh", models.BigIntegerField(default=0)),
                        ("shortfall_wh", models.BigIntegerField(default=0)),
                        ("reputation_ppm", models.BigIntegerField(default=1000000)),
                        ("bought_wh", models.BigIntegerField(default=0)),
                        ("received_wh", models.BigIntegerField(default=0)),
                        ("renewable_received_wh", models.BigIntegerField(default=0)),
                        ("carbon_g", models.BigIntegerField(default=0)),
                    ],
                    options={"db_table": "trading_settlementaccount"},
                ),
            ],
            database_operations=[],
        ),
    ]
