"""The demo meters: register them (signed by MEA/PEA demo keys), then publish their readings to MQTT."""

import random
import signal
import threading
import time

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from meters.services import demo_meters_register
from meters.simulator import simulator_tick
from meters.topics import HEADEND_NAME, broker_address


class Command(BaseCommand):
    help = "Simulate the demo network's smart meters (demo keys from public seeds: demo only)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.GTX_MQTT_URL, help="mqtt://host:port")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between reports")
        parser.add_argument("--once", action="store_true", help="register, report once, and exit")
        parser.add_argument(
            "--headend",
            default="",
            help="report through this utility head-end: every tick's readings in one message",
        )

    def handle(self, *args, url, interval, once, headend, **options):
        if headend and not HEADEND_NAME.fullmatch(headend):
            raise CommandError("--headend is 1 to 64 letters, digits, '_' or '-'.")
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect(*broker_address(url), keepalive=30)
        client.loop_start()
        rng = random.Random()
        try:
            registered = demo_meters_register()
            self.stdout.write(
                f"meter simulator: {registered} demo meters registered; reporting every {interval:g} s"
            )
            stopping.wait(3)  # the registrations' block
            while not stopping.is_set():
                try:
                    published = simulator_tick(
                        client, now_ms=time.time_ns() // 1_000_000, rng=rng, headend=headend
                    )
                    if not published:
                        demo_meters_register()  # e.g. the chain was reset under a running simulator
                except Exception as exc:  # a database hiccup must not end the demo
                    self.stderr.write(f"meter simulator: tick failed: {exc}")
                finally:
                    close_old_connections()
                if once:
                    break
                stopping.wait(interval)
        finally:
            client.loop_stop()
            client.disconnect()
