"""The grid's deterministic core: status reports, operator path limits, the frequency pause.

Plain Python and integers only, no Django. Importing this package registers
the kinds and tables with chain.ledger and the grid's capacity limit with the
market's matcher.
"""

from . import kinds, records  # noqa: F401  (registration)
