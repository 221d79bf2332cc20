"""Settlement figures for templates of other apps (the wallet's balances, the meters page)."""

from django import template

from settlement import selectors

register = template.Library()


@register.simple_tag
def settlement_record(address: str):
    """The account's delivery and carbon record, or None before its first settled trade."""
    return selectors.settlement_record(address=address)
