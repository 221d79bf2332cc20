"""The region names of the demo genesis (thai_market.toml), for the translation catalogue.

A region's name is genesis data, shown through ``chain.selectors.region_name``; marked here so
that ``makemessages`` keeps a translation of each (tests/web/test_languages.py checks the
genesis has no other).
"""

from django.utils.translation import gettext_noop

DEMO_REGION_NAMES = (
    gettext_noop("Bangkok Metropolitan"),
    gettext_noop("Central"),
    gettext_noop("North"),
    gettext_noop("Northeast"),
    gettext_noop("East"),
    gettext_noop("South"),
)
