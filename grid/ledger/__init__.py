"""The grid's deterministic core: status reports, operator path limits, the frequency pause.

Plain Python and integers only, no Django. The kinds, tables and the grid's
capacity limit on the market's matcher are installed by the protocol module
(protocol/__init__.py).
"""
