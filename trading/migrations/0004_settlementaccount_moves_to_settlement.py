"""SettlementAccount now belongs to the settlement app (settlement 0001): the table stays as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0003_ledger_integers_are_bigint"),
        ("settlement", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SettlementAccount")],
            database_operations=[],
        ),
    ]
