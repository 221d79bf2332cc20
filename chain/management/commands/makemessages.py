"""Django's makemessages, also extracting the ledger's sentences (chain.ledger.errors).

A refusal's template is the second argument of ``LedgerError`` and ``Refused`` and the first
of ``ledger_text``: extracted like ``gettext_noop`` so that pages show it translated
(``chain.refusals``) while the ledger keeps writing English.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [
        *makemessages.Command.xgettext_options,
        "--keyword=LedgerError:2",
        "--keyword=Refused:2",
        "--keyword=ledger_text:1",
    ]
