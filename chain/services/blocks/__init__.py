"""Blocks on this site: build our proposal (``build``), check a peer's in full (``check``),
write a decided one (``write``, its transactions by COPY in ``chain_tx_copy``).

A block is applied in one database transaction: read the mempool, execute in
the ledger core, then write with one statement per table. Anything raised
before the commit leaves the previous state exactly as it was.
"""
