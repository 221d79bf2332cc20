"""Grid figures for people: integers on chain (mHz, per-mille, kW, ppm) as Hz, %, MW."""

from django import template

register = template.Library()


@register.filter
def hz(mhz) -> str:
    """50012 mHz -> '50.012'."""
    if mhz is None or mhz == "":
        return "—"
    mhz = int(mhz)
    return f"{mhz // 1000}.{mhz % 1000:03d}"


@register.filter
def mw(kw) -> str:
    """Whole MW with thousands separators: 9123456 kW -> '9,123'."""
    if kw is None or kw == "":
        return "—"
    return f"{round(int(kw) / 1000):,}"


@register.filter
def ppm_percent(ppm) -> str:
    """Parts per million as a percentage with one decimal: 153400 -> '15.3'."""
    if ppm is None or ppm == "":
        return "—"
    return f"{int(ppm) / 10_000:.1f}"


@register.filter
def permille_percent(permille) -> str:
    """Per-mille of nominal as a percentage with one decimal: 1002 -> '100.2'."""
    if permille is None or permille == "":
        return "—"
    return f"{int(permille) / 10:.1f}"


@register.filter
def ppm_width(ppm) -> int:
    """A bar width in percent, capped at 100."""
    return min(int(ppm or 0) // 10_000, 100)


@register.filter
def thousands(value) -> str:
    """A whole number with thousands separators: 4000 -> '4,000'."""
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"


@register.filter
def mwh(energy_wh) -> str:
    """Wh as whole MWh with thousands separators: 625000000 -> '625'."""
    if energy_wh is None or energy_wh == "":
        return "—"
    return f"{round(int(energy_wh) / 1_000_000):,}"
