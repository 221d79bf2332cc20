"""The chain's integer units as text: tokens (10^-6 token per unit) and energy (Wh as kWh).

Pure integer arithmetic, so a shown amount is exactly the amount on chain.
Templates use these through chain_units; messages to people use them directly.
``whole_number`` reads a whole number a person or a query string wrote.
"""

import re

TOKEN_UNIT = 1_000_000
TOKEN_DECIMALS = 6

_DIGITS = re.compile(r"[0-9]+")


def whole_number(text: str | None, *, max_digits: int = 16) -> int | None:
    """``text`` as an int when it is 1 to ``max_digits`` ASCII digits; else None, never an error.

    Not ``str.isdigit()``: it also takes "²", which int() refuses (a 500), and "٣",
    which int() reads as 3; nor an unbounded int(), which refuses 4,300 digits and more.
    """
    if not text or len(text) > max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)


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
