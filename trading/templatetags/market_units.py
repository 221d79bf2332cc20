"""Display of market times and shares: Unix ms as local times, levels as bar widths."""

from datetime import UTC, datetime, timedelta

from django import template

register = template.Library()


@register.filter
def ms_datetime(value) -> datetime | None:
    """Unix ms -> an aware datetime; the ``date``/``time`` filters then show it in local time."""
    if value is None or value == "":
        return None
    seconds, ms = divmod(int(value), 1000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=ms)


@register.filter
def percent_of(part, whole) -> int:
    """``part`` as a whole percentage of ``whole`` (at least 1 when part > 0), for bar widths."""
    part, whole = int(part or 0), int(whole or 0)
    if part <= 0 or whole <= 0:
        return 0
    return max(1, part * 100 // whole)
