"""Display of the chain's integer units: tokens (10^-6 token per unit) and energy (Wh).

Pure integer arithmetic, so a displayed amount is exactly the amount on chain.
"""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_noop

from chain import selectors
from chain.units import kwh_text, tokens_text

register = template.Library()


@register.filter
def tokens(units) -> str:
    """Units as tokens: ``5000000000`` -> ``5,000.00``; keeps every significant decimal."""
    if units is None or units == "":
        return ""
    return tokens_text(int(units))


@register.filter
def kwh(energy_wh) -> str:
    """Wh as kWh with three decimals (exact: 1 Wh = 0.001 kWh): ``1500`` -> ``1.500``."""
    if energy_wh is None or energy_wh == "":
        return ""
    return kwh_text(int(energy_wh))


@register.filter
def iso_datetime(value) -> datetime | None:
    """An ISO 8601 time as a peer's JSON gives it -> an aware datetime the ``date`` filter shows locally."""
    return parse_datetime(value) if isinstance(value, str) else None


@register.filter
def short_hash(value, length: int = 10) -> str:
    """The head of a hash or address, for tables; the full value goes in a title attribute."""
    value = str(value or "")
    return value if len(value) <= length + 1 else f"{value[:length]}…"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


#: Payload fields in tokens whatever the kind; other apps' kinds follow the same naming.
TOKEN_FIELDS = {"amount", "fee", "reward"}


@register.filter
def payload_fields(payload) -> list[dict]:
    """A transaction payload as rows to show: addresses linked, token amounts and energy formatted.

    Decided by name: ``*_wh`` is energy, ``price*``/``*_fee*``/``amount`` are
    token units (prices per kWh), a 64-hex string is an address.
    """
    rows = []
    for name, value in sorted((payload or {}).items()):
        row = {"name": name, "value": value, "format": "text"}
        if isinstance(value, int) and not isinstance(value, bool):
            if name.endswith("_wh"):
                row.update(format="kwh", shown=kwh(value))
            elif name in TOKEN_FIELDS or "price" in name or "fee" in name:
                row.update(format="tokens", shown=tokens(value), per_kwh="price" in name or "per_kwh" in name)
        elif isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            row["format"] = "address"
        rows.append(row)
    return rows


#: The energy sources (orders, trades, certificates) and meter kinds the data names, for people.
SOURCE_NAMES = {
    "solar": gettext_noop("solar"),
    "wind": gettext_noop("wind"),
    "hydro": gettext_noop("hydro"),
    "biomass": gettext_noop("biomass"),
    "grid": gettext_noop("grid"),
    "mixed": gettext_noop("mixed"),
    "consumption": gettext_noop("consumption"),
    "any": gettext_noop("any"),
}


def word_in_language(words: dict[str, str], key: str) -> str:
    """``words[key]`` (a gettext_noop mark) in the active language; a key it lacks as it is."""
    return gettext(words[key]) if key in words else key


@register.filter
def source_name(source: str) -> str:
    """An energy source or meter kind in the active language (unknown ones as they are)."""
    return word_in_language(SOURCE_NAMES, source)


@register.filter
def region_name(region_id: str) -> str:
    """A region or zone id as its genesis name in the active language."""
    return selectors.region_name(region_id) if region_id else region_id
