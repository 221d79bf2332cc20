"""Shares in parts per million, as people read them (integers until the last step)."""

from django import template

register = template.Library()


@register.filter
def ppm_percent(ppm) -> str:
    """``334000`` -> ``33.4%``; one decimal, rounded down (two under 1%, so a small share is not 0.0%)."""
    ppm = int(ppm or 0)
    if 0 < ppm < 10_000:
        return f"0.{ppm // 100:02d}%" if ppm >= 100 else "<0.01%"
    return f"{ppm // 10_000}.{ppm % 10_000 // 1_000}%"


@register.filter
def ppm_width(ppm) -> str:
    """A CSS width for a bar segment: ``334000`` -> ``33.40%``."""
    ppm = max(0, min(int(ppm or 0), 1_000_000))
    return f"{ppm // 10_000}.{ppm % 10_000 // 100:02d}%"


@register.filter
def action_label(action: str) -> str:
    from governance.forms import ACTION_CHOICES

    return dict(ACTION_CHOICES).get(action, action)
