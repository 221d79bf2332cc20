"""Block order by round-robin over senders: each waiting transaction's turn, and the index
the block producer reads the mempool by (one index range, as cheap as the old id order)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0007_fewer_tx_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="mempooltx",
            name="turn",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="mempooltx",
            index=models.Index(fields=["turn", "id"], name="mempool_turn_id"),
        ),
    ]
