from django.conf import settings
from django.core.management.base import BaseCommand

from chain.ledger.genesis import load_genesis
from chain.management.commands.init import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Print the demo site's address and logins."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port, **options):
        genesis = load_genesis(settings.GTX_GENESIS_PATH)
        lines = [
            "",
            "  GridTokenX demo site",
            f"  Open http://127.0.0.1:{port}/   (Ctrl-C stops everything)",
            "",
            f"  Demo logins (password: {DEMO_PASSWORD})",
        ]
        for account in genesis.accounts:
            lines.append(f"    {account['username']:<16} {account['role']:<10} {account['display_name']}")
        lines += [f"    {'admin':<16} {'staff':<10} Validator admin", ""]
        self.stdout.write("\n".join(lines))
