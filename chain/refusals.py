"""The ledger's English sentences shown in the reader's language.

The ledger writes every refusal and outcome in English, the same at every site, from a literal
template (``chain.ledger.errors``) that ``makemessages`` puts in the catalogue. A page holds only
the finished sentence (an exception's ``message``, a failed receipt's ``error_message``): it is
translated whole when it has no values, else matched against the catalogue's templates and
translated with the values it carried, each value translated again (a proposal's "Not
executed: <refusal>"). A sentence the catalogue does not know is shown as it is.
"""

import gettext as gettext_module
import re
from functools import lru_cache

from django.conf import settings
from django.utils.translation import get_language, gettext, to_locale

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: A template must have this much fixed text to be matched: "%(x)s." would match anything.
MIN_FIXED_CHARS = 8
#: How deep values are translated in turn.
MAX_DEPTH = 2


def refusal_text(message: str, depth: int = 0) -> str:
    """``message`` in the active language, or as it is."""
    if not message:
        return message
    translated = gettext(message)
    if translated != message:
        return translated
    for pattern, template in _templates(get_language() or ""):
        match = pattern.fullmatch(message)
        if match:
            values = match.groupdict()
            if depth < MAX_DEPTH:
                values = {name: refusal_text(value, depth + 1) for name, value in values.items()}
            return gettext(template) % values
    return message


@lru_cache(maxsize=8)
def _templates(language: str) -> tuple[tuple[re.Pattern, str], ...]:
    """The project's translated templates with values, as patterns, the most specific first.

    Read from the project's own compiled catalogue (LOCALE_PATHS), which ``makemessages``
    extracted from the ledger's literals: Django's and other apps' templates ("%(model_name)s
    with this %(field_label)s already exists.") would match the ledger's sentences wrongly."""
    if not language or language.startswith("en"):
        return ()
    msgids = set()
    for path in settings.LOCALE_PATHS:
        own = gettext_module.translation(
            "django", localedir=path, languages=[to_locale(language)], fallback=True
        )
        msgids.update(getattr(own, "_catalog", {}))
    found = []
    for msgid in msgids:
        if not isinstance(msgid, str) or "%(" not in msgid:
            continue
        fixed = _PLACEHOLDER.sub("", msgid).replace("%%", "%")
        if len(fixed) < MIN_FIXED_CHARS:
            continue
        found.append((len(fixed), _pattern(msgid), msgid))
    found.sort(key=lambda item: -item[0])
    return tuple((pattern, msgid) for _, pattern, msgid in found)


def _pattern(template: str) -> re.Pattern:
    parts, seen, position = [], set(), 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position : match.start()].replace("%%", "%")))
        name = match.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = match.end()
    parts.append(re.escape(template[position:].replace("%%", "%")))
    return re.compile("".join(parts), re.DOTALL)
