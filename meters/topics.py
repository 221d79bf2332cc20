"""MQTT topics and the broker address of the meters (no Django: benchmarks and meters use it too).

A meter publishes to ``<root>/<meter>/readings``; the bridge answers on
``<root>/<meter>/accepted`` and ``<root>/<meter>/rejected``.

A utility's head-end (the system its meters report through) publishes many meters'
readings in one message to ``<root>/headends/<headend>/readings``, each reading still
signed by its own meter, and hears one answer per message on
``<root>/headends/<headend>/answers`` (docs/METERS.md).
"""

import re
from urllib.parse import urlparse

TOPIC_ROOT = "gridtokenx/meters"
#: The shortest wait a meter told to retry (a rejected answer with retry_after_ms) is told.
RETRY_AFTER_MS = 250
#: What a reading that came before its meter's turn is told (the bridge's TurnsKept).
OUT_OF_TURN_MESSAGE = "An earlier reading of this meter waits its turn; send this one with it."


def readings_topic(meter: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/{meter}/readings"


def reply_topic(meter: str, outcome: str, root: str = TOPIC_ROOT) -> str:
    """``outcome`` is "accepted" or "rejected"."""
    return f"{root}/{meter}/{outcome}"


def meter_of_topic(topic: str) -> str:
    """<root>/<meter>/readings -> <meter> (the root may hold slashes)."""
    parts = topic.rsplit("/", 2)
    return parts[1] if len(parts) == 3 else ""


#: A head-end's name in its topics, and the id it gives each message (echoed in the answer).
HEADEND_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
HEADEND_BATCH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: A head-end message starts with its batch id, so a refusal made unread can name it.
HEADEND_PREFIX = re.compile(rb'\{"batch":"([A-Za-z0-9_.:-]{1,64})",')
#: The most readings one meter's message holds: its backlog, after an outage or a wait it was
#: told to keep (a day of 15-minute readings is 96).
METER_MAX_READINGS = 100
#: The most readings one head-end message holds.
HEADEND_MAX_READINGS = 1000
#: The bytes a message may take per reading it may hold (a signed reading's wire JSON takes about
#: 500 with the largest integers the chain accepts): a message is refused past them unparsed.
READING_MAX_BYTES = 1024
METER_MAX_BYTES = METER_MAX_READINGS * READING_MAX_BYTES
HEADEND_MAX_BYTES = HEADEND_MAX_READINGS * READING_MAX_BYTES
HEADENDS = "headends"


def headend_topic(headend: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/{HEADENDS}/{headend}/readings"


def headend_answer_topic(headend: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/{HEADENDS}/{headend}/answers"


def headend_of_topic(topic: str, root: str = TOPIC_ROOT) -> str | None:
    """<root>/headends/<headend>/readings -> <headend>; None for any other topic."""
    head, _, rest = topic.partition(f"{root}/{HEADENDS}/")
    name, _, tail = rest.partition("/")
    return name if not head and tail == "readings" and HEADEND_NAME.fullmatch(name) else None


def headend_batch_id(body: bytes) -> str:
    """The batch id a head-end's message starts with, or "" (read without parsing the message)."""
    prefix = HEADEND_PREFIX.match(body)
    return prefix.group(1).decode() if prefix else ""


def headend_message(batch_id: str, readings: list[str]) -> str:
    """A head-end's message: its batch id first, then the readings as their meters encoded them
    (each a signed meter_reading transaction's wire JSON)."""
    if not HEADEND_BATCH_ID.fullmatch(batch_id):
        raise ValueError("A batch id is 1 to 64 letters, digits, '_', '.', ':' or '-'.")
    return f'{{"batch":"{batch_id}","readings":[{",".join(readings)}]}}'


def meter_messages(readings: list[str]) -> list[str]:
    """A meter's messages for its readings (each its signed meter_reading's wire JSON, in nonce
    order): one alone as itself, a backlog as lists of up to METER_MAX_READINGS."""
    if len(readings) == 1:
        return readings
    return [
        "[" + ",".join(readings[first : first + METER_MAX_READINGS]) + "]"
        for first in range(0, len(readings), METER_MAX_READINGS)
    ]


def broker_address(url: str) -> tuple[str, int]:
    """mqtt://host:port -> (host, port); 1883 by default."""
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 1883
