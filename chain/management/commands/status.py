import json

from django.core.management.base import BaseCommand

from chain.selectors import node_status


class Command(BaseCommand):
    help = "Show this site's height, last block time, mempool size and peers."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        status = node_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, default=str))
            return
        for key, value in status.items():
            self.stdout.write(f"{key:>18}: {value}")
