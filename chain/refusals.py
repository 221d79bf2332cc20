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
#: Templates are looked up by this many characters of their fixed start.
PREFIX_CHARS = 10
#: A longer sentence is shown as it is: lazy groups cost the cube of its length to match,
#: and the ledger cuts the values it quotes far shorter.
MAX_MATCHED_CHARS = 1000


def refusal_text(message: str, depth: int = 0) -> str:
    """``message`` in the active language, or as it is."""
    if not message:
        return message
    translated = gettext(message)
    if translated != message or len(message) > MAX_MATCHED_CHARS:
        return translated
    by_prefix, loose = _templates(get_language() or "")
    for pattern, template in (*by_prefix.get(message[:PREFIX_CHARS], ()), *loose):
        match = pattern.fullmatch(message)
        if match:
            values = match.groupdict()
            if depth < MAX_DEPTH:
                values = {name: refusal_text(value, depth + 1) for name, value in values.items()}
            return gettext(template) % values
    return message


@lru_cache(maxsize=8)
def _templates(language: str) -> tuple[dict[str, tuple], tuple]:
    """The project's translated templates with values, as patterns, the most specific first:
    by the first PREFIX_CHARS characters of their fixed start, and those whose fixed start is
    shorter (tried for every sentence).

    Read from the project's own compiled catalogue (LOCALE_PATHS), which ``makemessages``
    extracted from the ledger's literals: Django's and other apps' templates ("%(model_name)s
    with this %(field_label)s already exists.") would match the ledger's sentences wrongly."""
    if not language or language.startswith("en"):
        return {}, ()
    msgids = set()
    for path in settings.LOCALE_PATHS:
        own = gettext_module.translation(
            "django", localedir=path, languages=[to_locale(language)], fallback=True
        )
        msgids.update(getattr(own, "_catalog", {}))
    by_prefix: dict[str, list] = {}
    loose = []
    for msgid in msgids:
        if not isinstance(msgid, str) or "%(" not in msgid:
            continue
        fixed = _PLACEHOLDER.sub("", msgid).replace("%%", "%")
        if len(fixed) < MIN_FIXED_CHARS:
            continue
        start = msgid.split("%(", 1)[0].replace("%%", "%")
        entry = (len(fixed), _pattern(msgid), msgid)
        if len(start) >= PREFIX_CHARS:
            by_prefix.setdefault(start[:PREFIX_CHARS], []).append(entry)
        else:
            loose.append(entry)

    def most_specific_first(entries: list) -> tuple:
        return tuple((pattern, msgid) for _, pattern, msgid in sorted(entries, key=lambda e: -e[0]))

    return {key: most_specific_first(entries) for key, entries in by_prefix.items()}, most_specific_first(
        loose
    )


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
