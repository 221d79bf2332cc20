"""MQTT topics and the broker address of the meters (no Django: benchmarks and meters use it too).

A meter publishes to ``<root>/<meter>/readings``; the bridge answers on
``<root>/<meter>/accepted`` and ``<root>/<meter>/rejected``.
"""

from urllib.parse import urlparse

TOPIC_ROOT = "gridtokenx/meters"
#: What a meter told to retry (a rejected answer with retry_after_ms) waits first, as the API's Retry-After.
RETRY_AFTER_MS = 250


def readings_topic(meter: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/{meter}/readings"


def reply_topic(meter: str, outcome: str, root: str = TOPIC_ROOT) -> str:
    """``outcome`` is "accepted" or "rejected"."""
    return f"{root}/{meter}/{outcome}"


def meter_of_topic(topic: str) -> str:
    """<root>/<meter>/readings -> <meter> (the root may hold slashes)."""
    parts = topic.rsplit("/", 2)
    return parts[1] if len(parts) == 3 else ""


def broker_address(url: str) -> tuple[str, int]:
    """mqtt://host:port -> (host, port); 1883 by default."""
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 1883
