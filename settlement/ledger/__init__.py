"""Settlement's deterministic core: the begin-block hook that settles due trades, the delivery record.

Plain Python and integers only, no Django: every site settles the same trades
at the same height.
"""
