"""Governance's deterministic core: proposals, votes, the tally, validator administration.

Plain Python and integers only, no Django: every site must reach the same
outcome at the same height. Importing this package registers the kinds, the
tables and the block-start tally with chain.ledger.
"""

from . import proposals, records, validators  # noqa: F401  (registration)
