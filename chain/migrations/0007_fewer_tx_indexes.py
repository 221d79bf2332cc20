"""Indexes nothing reads, each costing a write per admitted or committed transaction.

chain_chaintx.block_id is the leading column of chaintx_block_position; the
varchar_pattern_ops twins of the hash indexes serve LIKE, and no query looks
up a hash by prefix.
"""

import django.db.models.deletion
from django.db import migrations, models

LIKE_INDEXES = {
    "chain_mempooltx_hash_7cd1b7d7_like": "chain_mempooltx",
    "chain_chaintx_hash_b6c74033_like": "chain_chaintx",
}


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0006_proposal_tx_hashes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="chaintx",
            name="block",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="transactions",
                to="chain.block",
            ),
        ),
        *(
            migrations.RunSQL(
                f"DROP INDEX IF EXISTS {index}",
                f"CREATE INDEX IF NOT EXISTS {index} ON {table} (hash varchar_pattern_ops)",
            )
            for index, table in LIKE_INDEXES.items()
        ),
    ]
