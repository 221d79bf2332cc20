"""The energy market's deterministic core: order kinds, records, matching.

Plain Python and integers only, no Django: every site must compute the same
fills from the same blocks. The kinds, tables and block-start sweep defined
here are installed by the protocol module (protocol/__init__.py).
"""
