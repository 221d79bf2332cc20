from django.core.management.base import BaseCommand, CommandError

from chain.services.wallets import WalletKeyMissing, seal_key_version, wallets_reseal


class Command(BaseCommand):
    help = (
        "Seal every wallet key under the newest GTX_WALLET_KEYS version. To rotate: add a new "
        "version beside the old, restart, run this, then drop the old version."
    )

    def handle(self, *args, **options):
        try:
            moved = wallets_reseal()
        except WalletKeyMissing as exc:
            raise CommandError(f"{exc}: give the old version back in GTX_WALLET_KEYS and run again.") from exc
        self.stdout.write(f"{moved} wallet(s) sealed again under key version {seal_key_version()}.")
