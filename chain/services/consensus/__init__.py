"""This site's consensus over PostgreSQL (docs/CONSENSUS.md), one module per concept:

- ``step``: the driver: one step of the height machine at a time, under the consensus lock;
- ``step_needed``: whether a step has anything to do, before taking the lock;
- ``proposals``: our proposal, and a peer's checked in full before a vote;
- ``commit``: the decided block written with its certificate;
- ``evidence``: double signing recorded and reported;
- ``intake``: what peers send, kept for the next step;
- ``stored``: the messages and proposed blocks kept of a height, and their pruning.

The reads (the validator set per head, ``consensus_status``) are in chain.selectors.
"""
