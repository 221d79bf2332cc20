"""The bridge's MQTT client reads its socket in chunks, every whole packet of one before it waits
again, and writes every packet queued with one send, through the machine's real Mosquitto:
every message arrives whole and in order, a packet longer than a chunk included, with far fewer
reads and writes of the socket than paho's own."""

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from django.conf import settings

from meters.mqtt_client import BufferedClient
from meters.topics import broker_address

WAIT_S = 30  # only how long a broken client takes to fail the test


RECEIVER = "gtx-test-receiver-"
SENDER = "gtx-test-sender-"


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


def _counting_sends(monkeypatch) -> list[int]:
    """Counts the senders' writes to the socket (paho's ``_sock_send``)."""
    sends = [0]
    paho_send = mqtt.Client._sock_send

    def counted(self, buf):
        if self._client_id.decode().startswith(SENDER):
            sends[0] += 1
        return paho_send(self, buf)

    monkeypatch.setattr(mqtt.Client, "_sock_send", counted)
    return sends


def _connected(client_class, client_id: str, subscribe: str = "", **will) -> mqtt.Client:
    client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    if will:
        client.will_set(**will)
    client.connect(*broker_address(settings.GTX_MQTT_URL))
    if subscribe:
        client.subscribe(subscribe, qos=0)
        deadline = time.monotonic() + WAIT_S
        while not subscribed.is_set() and time.monotonic() < deadline:
            client.loop(0.1)
        assert subscribed.is_set()
    return client


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


def _answer(client_class, payloads: list[bytes]) -> list[bytes]:
    """``payloads`` published by ``client_class`` all at once, as the bridge answers a batch,
    from a callback on its own loop (so all are queued before it writes any), as received."""
    topic = f"gtx-test-{uuid.uuid4().hex[:8]}/mqtt-client"
    received, done = [], threading.Event()
    receiver = _connected(mqtt.Client, RECEIVER + uuid.uuid4().hex[:8], subscribe=f"{topic}/answers")

    def on_message(client, userdata, message):
        received.append(message.payload)
        if len(received) == len(payloads):
            done.set()

    receiver.on_message = on_message
    receiver.loop_start()
    sender = _connected(client_class, SENDER + uuid.uuid4().hex[:8], subscribe=f"{topic}/ask")

    def answer_all(client, userdata, message):
        for payload in payloads:
            client.publish(f"{topic}/answers", payload, qos=0)

    sender.on_message = answer_all
    sender.loop_start()
    try:
        asker = _connected(mqtt.Client, f"gtx-test-asker-{uuid.uuid4().hex[:8]}")
        asker.publish(f"{topic}/ask", b"?", qos=0)
        asker.loop(0.1)
        asker.disconnect()
        assert done.wait(WAIT_S), f"{len(received)} of {len(payloads)} arrived"
    finally:
        sender.loop_stop()
        sender.disconnect()
        receiver.loop_stop()
        receiver.disconnect()
    return received


def test_packets_queued_together_go_out_whole_and_in_order_in_few_writes(monkeypatch):
    sends = _counting_sends(monkeypatch)
    payloads = [f'{{"n": {n}, "pad": "{"x" * (n % 300)}"}}'.encode() for n in range(600)]
    payloads.insert(300, b"y" * (2 * BufferedClient.WRITE_CHUNK + 17))  # larger than a write
    assert _answer(BufferedClient, payloads) == payloads
    buffered_sends = sends[0]
    sends[0] = 0
    assert _answer(mqtt.Client, payloads) == payloads
    assert sends[0] >= len(payloads)  # paho: a send for each packet
    assert buffered_sends * 50 < sends[0], (buffered_sends, sends[0])


def test_a_disconnect_is_sent_before_the_socket_closes():
    """The broker publishes a client's will when its connection ends without a DISCONNECT."""
    topic = f"gtx-test-{uuid.uuid4().hex[:8]}/will"
    heard = []
    watcher = _connected(mqtt.Client, RECEIVER + uuid.uuid4().hex[:8], subscribe=topic)
    watcher.on_message = lambda client, userdata, message: heard.append(message.payload)
    watcher.loop_start()
    try:
        leaving = _connected(BufferedClient, SENDER + uuid.uuid4().hex[:8], topic=topic, payload=b"lost")
        leaving.loop_start()
        leaving.disconnect()
        leaving.loop_stop()
        lost = _connected(BufferedClient, SENDER + uuid.uuid4().hex[:8], topic=topic, payload=b"lost")
        lost.loop_start()
        lost.loop_stop()
        lost._write_pending = bytearray()
        super(BufferedClient, lost)._sock_close()  # gone without a word: the will is published
        deadline = time.monotonic() + WAIT_S
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heard == [b"lost"]  # once, for the second client only
    finally:
        watcher.loop_stop()
        watcher.disconnect()
