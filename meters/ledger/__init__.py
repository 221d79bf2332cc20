"""Smart meters' deterministic core: the device registry, signed readings, the mint.

Plain Python and integers only, no Django. The kinds (meter_register,
meter_revoke, meter_reading) and the tables are installed by the protocol
module (protocol/__init__.py).
"""
