"""The deterministic ledger core.

Plain Python, no Django: canonical encoding, keys and signatures, the
transaction format, the state model and the state transition. Every site must
compute exactly the same results from the same blocks, so everything here uses
integers only and is tested with hypothesis.
"""
