"""Django's words for spans of time ("3 minutes ago"), marked for this project's catalogue.

Django's own Thai catalogue still has them under older ids ("%d minute"), so its timesince
showed "0 minutes" on Thai pages. The same ids marked here are translated in
locale/th (this project's catalogue comes first), and nothing imports this module.
"""

from django.utils.translation import ngettext_lazy

TIME_WORDS = (
    ngettext_lazy("%(num)d year", "%(num)d years", "num"),
    ngettext_lazy("%(num)d month", "%(num)d months", "num"),
    ngettext_lazy("%(num)d week", "%(num)d weeks", "num"),
    ngettext_lazy("%(num)d day", "%(num)d days", "num"),
    ngettext_lazy("%(num)d hour", "%(num)d hours", "num"),
    ngettext_lazy("%(num)d minute", "%(num)d minutes", "num"),
)
