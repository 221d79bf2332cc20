"""Governance's deterministic core: proposals, votes, the tally, validator administration.

Plain Python and integers only, no Django: every site must reach the same
outcome at the same height. The kinds, tables and block-start tally defined
here are installed by the protocol module (protocol/__init__.py).
"""
