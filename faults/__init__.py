"""Faults as a network makes them, between the four demo sites, and a bank checker.

- ``hosts``: each site in its own network namespace with its own address on a bridge,
  its inbound TCP behind a relay (``relay``) that delays, jitters and loses, its wall
  clock movable (``skewclock.c``); PostgreSQL and Redis reached through forwarders
  that no partition touches.
- ``nemesis``: a seeded schedule of partitions, slow links, kill -9 and clock skew.
- ``workload``: signed transfers among fixed demo accounts sent to random sites.
- ``checker``: Jepsen's bank test: totals, acknowledged transactions, one chain.
- ``run``: all of it, ``python -m faults.run --seconds 120 --seed N`` (``make faults``).

docs/FAULTS.md says what is emulated and what is not.
"""
