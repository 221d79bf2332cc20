"""Settlement after delivery: trades settled against the sellers' meters, delivery records, carbon credits.

It sits above the market and the meters: it reads both (trades, the meters'
slot energy) and neither reads it, so ``trading`` and ``meters`` never import
each other.
"""
