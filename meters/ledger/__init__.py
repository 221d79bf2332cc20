"""Smart meters' deterministic core: the device registry, signed readings, the mint.

Plain Python and integers only, no Django. Importing this package registers the
kinds (meter_register, meter_revoke, meter_reading) and the tables.
"""

from . import kinds, records  # noqa: F401  (registration)
