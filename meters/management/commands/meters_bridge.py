"""Run the MQTT bridge: signed meter readings from the broker (GTX_MQTT_URL) into admission."""

import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from meters.bridge import MeterBridge
from meters.topics import TOPIC_ROOT, readings_topic


class Command(BaseCommand):
    help = "Bridge meter readings from MQTT into the mempool (Ctrl-C stops it)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.GTX_MQTT_URL, help="mqtt://host:port")
        # No more than the inbox holds (1,000 readings): under overload the inbox fills, and a
        # larger batch would wait out --flush-ms for readings that cannot come.
        parser.add_argument("--batch-max", type=int, default=1000)
        parser.add_argument("--flush-ms", type=int, default=50)
        parser.add_argument("--topic-root", default=TOPIC_ROOT, help="topics are <root>/<meter>/readings")

    def handle(self, *args, url, batch_max, flush_ms, topic_root, **options):
        logging.getLogger("meters").setLevel(logging.INFO)
        bridge = MeterBridge(url, batch_max=batch_max, flush_s=flush_ms / 1000, topic_root=topic_root)
        signal.signal(signal.SIGTERM, lambda *_: bridge.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: bridge.stopping.set())
        self.stdout.write(f"meters bridge: {readings_topic('+', topic_root)} on {url}")
        bridge.run_forever()
        self.stdout.write(f"meters bridge stopped: {bridge.accepted} accepted, {bridge.rejected} refused")
