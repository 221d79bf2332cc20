from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chain.ledger.genesis import GenesisError, demo_key, load_genesis
from chain.ledger.keys import address_of, new_signing_key
from chain.node import node_key_path, node_key_write
from chain.services.genesis import ChainAlreadyInitialised, chain_init, demo_users_create

DEMO_PASSWORD = "gridtokenx-demo"  # noqa: S105 - the public demo password, printed on start


class Command(BaseCommand):
    help = "Initialise this site's chain from a genesis file (idempotent for the same genesis)."

    def add_arguments(self, parser):
        parser.add_argument("--genesis-config", default=settings.GTX_GENESIS_PATH)
        parser.add_argument(
            "--validator",
            help="Run as this genesis validator (e.g. EGAT). With --demo its key comes from the demo seed.",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="The validator's public demo key, demo logins and an 'admin' superuser, all with "
            "public passwords. Without it: a fresh node key (mode 0600) and no users.",
        )

    def handle(self, *args, genesis_config, validator, demo, **options):
        try:
            genesis = load_genesis(genesis_config)
        except GenesisError as exc:
            raise CommandError(str(exc)) from exc
        try:
            head = chain_init(genesis)
        except ChainAlreadyInitialised as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Chain {head.chain_id} at height {head.height}, state root {head.state_root[:16]}…"
        )
        if not node_key_path().exists():
            if validator and demo:
                key = demo_key(validator)
            elif validator:
                raise CommandError("Outside a demo, give this site its own key file (GTX_NODE_KEY_FILE).")
            else:
                key = new_signing_key()
            node_key_write(key)
            self.stdout.write(f"Node key written to {node_key_path()} (public key {address_of(key)})")
        if demo:
            created = demo_users_create(genesis, DEMO_PASSWORD)
            if created:
                self.stdout.write(f"Demo users created: {', '.join(created)}")
