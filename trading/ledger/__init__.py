"""The energy market's deterministic core: order kinds, records, matching.

Plain Python and integers only, no Django: every site must compute the same
fills from the same blocks. Importing this package registers the kinds, the
tables and the block-start sweep with chain.ledger.
"""

from . import orders, records, settlement  # noqa: F401  (registration)
