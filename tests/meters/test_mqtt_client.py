"""The bridge's MQTT client reads its socket in chunks, every whole packet of one before it waits
again, through the machine's real Mosquitto: every message arrives whole and in order, a
packet longer than a chunk included, with far fewer reads of the socket than paho's own."""

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from django.conf import settings

from meters.mqtt_client import BufferedClient
from meters.topics import broker_address

WAIT_S = 30  # only how long a broken client takes to fail the test


RECEIVER = "gtx-test-receiver-"


def _counting_reads(monkeypatch) -> list[int]:
    """Counts the receivers' reads of the socket (paho's ``_sock_recv``), not the sender's."""
    reads = [0]
    paho_recv = mqtt.Client._sock_recv

    def counted(self, bufsize):
        if self._client_id.decode().startswith(RECEIVER):
            reads[0] += 1
        return paho_recv(self, bufsize)

    monkeypatch.setattr(mqtt.Client, "_sock_recv", counted)
    return reads


def _receive(client_class, payloads: list[bytes]) -> list[bytes]:
    """Subscribe with ``client_class``, let ``payloads`` queue up at the broker and in the socket
    while the client does not read, then read them all."""
    topic = f"gtx-test-{uuid.uuid4().hex[:8]}/mqtt-client"
    received, done, subscribed = [], threading.Event(), threading.Event()
    receiver = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=RECEIVER + uuid.uuid4().hex[:8])

    def on_message(client, userdata, message):
        received.append(message.payload)
        if len(received) == len(payloads):
            done.set()

    receiver.on_message = on_message
    receiver.on_subscribe = lambda *args: subscribed.set()
    receiver.connect(*broker_address(settings.GTX_MQTT_URL))
    receiver.subscribe(topic, qos=0)
    deadline = time.monotonic() + WAIT_S
    while not subscribed.is_set() and time.monotonic() < deadline:
        receiver.loop(0.1)
    assert subscribed.is_set()
    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sender.connect(*broker_address(settings.GTX_MQTT_URL))
    sender.loop_start()
    try:
        for payload in payloads:
            sender.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)
        time.sleep(0.2)  # the broker passes them on into the receiver's socket
        receiver.loop_start()
        assert done.wait(WAIT_S), f"{len(received)} of {len(payloads)} arrived"
    finally:
        sender.loop_stop()
        sender.disconnect()
        receiver.loop_stop()
        receiver.disconnect()
    return received


def test_every_message_arrives_whole_and_in_order_in_few_reads(monkeypatch):
    reads = _counting_reads(monkeypatch)
    payloads = [f'{{"n": {n}, "pad": "{"x" * (n % 300)}"}}'.encode() for n in range(600)]
    payloads.insert(300, b"y" * (3 * BufferedClient.READ_CHUNK + 17))  # across four chunks
    assert _receive(BufferedClient, payloads) == payloads
    buffered_reads = reads[0]
    reads[0] = 0
    assert _receive(mqtt.Client, payloads) == payloads
    # paho reads the command byte, the length's bytes and the rest, each with its own call.
    assert reads[0] >= 3 * len(payloads)
    assert buffered_reads * 100 < reads[0], (buffered_reads, reads[0])


def test_a_closed_connection_leaves_nothing_read_for_the_next():
    client = BufferedClient(mqtt.CallbackAPIVersion.VERSION2)
    client._read_buffer, client._read_offset = b"\x30\x05stale", 2  # part of the old connection's packet
    client._sock_close()
    assert (client._read_buffer, client._read_offset) == (b"", 0)
