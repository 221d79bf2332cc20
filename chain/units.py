"""The chain's integer units as text: tokens (10^-6 token per unit) and energy (Wh as kWh).

Pure integer arithmetic, so a shown amount is exactly the amount on chain.
Templates use these through chain_units; messages to people use them directly.
``whole_number`` reads a whole number a person or a query string wrote.
"""

TOKEN_UNIT = 1_000_000
TOKEN_DECIMALS = 6


def tokens_text(units: int) -> str:
    """``5000000000`` -> ``5,000.00``; keeps every significant decimal."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), TOKEN_UNIT)
    decimals = f"{fraction:0{TOKEN_DECIMALS}d}".rstrip("0")
    return f"{sign}{whole:,}.{decimals.ljust(2, '0')}"


def kwh_text(energy_wh: int) -> str:
    """``1500`` -> ``1.500`` (exact: 1 Wh = 0.001 kWh)."""
    sign = "-" if energy_wh < 0 else ""
    whole, fraction = divmod(abs(energy_wh), 1000)
    return f"{sign}{whole:,}.{fraction:03d}"
