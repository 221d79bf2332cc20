"""The bridge's MQTT client reads its socket in chunks, every whole packet of one before it waits
again, and writes every packet queued with one send, through the machine's real Mosquitto:
every message arrives whole and in order, a packet longer than a chunk included, with far fewer
reads and writes of the socket than paho's own."""

import contextlib
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


def _counting(monkeypatch, method: str, client_prefix: str) -> list[int]:
    """Counts the calls of paho's socket ``method`` (``_sock_recv``, ``_sock_send``) made by
    the clients whose id starts with ``client_prefix``: the receivers' reads, the senders'
    writes."""
    calls = [0]
    paho_method = getattr(mqtt.Client, method)

    def counted(self, arg):
        if self._client_id.decode().startswith(client_prefix):
            calls[0] += 1
        return paho_method(self, arg)

    monkeypatch.setattr(mqtt.Client, method, counted)
    return calls


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


@contextlib.contextmanager
def _closed_after(*clients: mqtt.Client):
    """Each client's loop stopped and its connection closed on the way out."""
    try:
        yield
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()


def _payloads(large: int) -> list[bytes]:
    """600 payloads of up to 300 bytes and, among them, one of ``large`` bytes."""
    payloads = [f'{{"n": {n}, "pad": "{"x" * (n % 300)}"}}'.encode() for n in range(600)]
    payloads.insert(300, b"y" * large)
    return payloads


def _collecting(client: mqtt.Client, expected: int) -> tuple[list[bytes], threading.Event]:
    """What ``client`` receives, and an event set once it has ``expected`` messages."""
    received, done = [], threading.Event()

    def on_message(client, userdata, message):
        received.append(message.payload)
        if len(received) == expected:
            done.set()

    client.on_message = on_message
    return received, done


def _whole_and_in_order(run, payloads: list[bytes], calls: list[int]) -> tuple[int, int]:
    """``run`` with the bridge's client, then with paho's: each delivers every payload whole
    and in order; the calls counted in each run (the bridge's client's, paho's)."""
    counted = []
    for client_class in (BufferedClient, mqtt.Client):
        calls[0] = 0
        assert run(client_class, payloads) == payloads
        counted.append(calls[0])
    return counted[0], counted[1]


def _receive(client_class, payloads: list[bytes]) -> list[bytes]:
    """Subscribe with ``client_class``, let ``payloads`` queue up at the broker and in the socket
    while the client does not read, then read them all."""
    topic = f"gtx-test-{uuid.uuid4().hex[:8]}/mqtt-client"
    receiver = _connected(client_class, RECEIVER + uuid.uuid4().hex[:8], subscribe=topic)
    received, done = _collecting(receiver, len(payloads))
    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sender.connect(*broker_address(settings.GTX_MQTT_URL))
    sender.loop_start()
    with _closed_after(sender, receiver):
        for payload in payloads:
            sender.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)
        time.sleep(0.2)  # the broker passes them on into the receiver's socket
        receiver.loop_start()
        assert done.wait(WAIT_S), f"{len(received)} of {len(payloads)} arrived"
    return received


def test_every_message_arrives_whole_and_in_order_in_few_reads(monkeypatch):
    reads = _counting(monkeypatch, "_sock_recv", RECEIVER)
    payloads = _payloads(3 * BufferedClient.READ_CHUNK + 17)  # across four chunks
    buffered_reads, paho_reads = _whole_and_in_order(_receive, payloads, reads)
    # paho reads the command byte, the length's bytes and the rest, each with its own call.
    assert paho_reads >= 3 * len(payloads)
    assert buffered_reads * 100 < paho_reads, (buffered_reads, paho_reads)


def test_a_closed_connection_leaves_nothing_read_for_the_next():
    client = BufferedClient(mqtt.CallbackAPIVersion.VERSION2)
    client._read_buffer, client._read_offset = b"\x30\x05stale", 2  # part of the old connection's packet
    client._sock_close()
    assert (client._read_buffer, client._read_offset) == (b"", 0)


def _answer(client_class, payloads: list[bytes]) -> list[bytes]:
    """``payloads`` published by ``client_class`` all at once, as the bridge answers a batch,
    from a callback on its own loop (so all are queued before it writes any), as received."""
    topic = f"gtx-test-{uuid.uuid4().hex[:8]}/mqtt-client"
    receiver = _connected(mqtt.Client, RECEIVER + uuid.uuid4().hex[:8], subscribe=f"{topic}/answers")
    received, done = _collecting(receiver, len(payloads))
    receiver.loop_start()
    sender = _connected(client_class, SENDER + uuid.uuid4().hex[:8], subscribe=f"{topic}/ask")

    def answer_all(client, userdata, message):
        for payload in payloads:
            client.publish(f"{topic}/answers", payload, qos=0)

    sender.on_message = answer_all
    sender.loop_start()
    with _closed_after(sender, receiver):
        asker = _connected(mqtt.Client, f"gtx-test-asker-{uuid.uuid4().hex[:8]}")
        asker.publish(f"{topic}/ask", b"?", qos=0)
        asker.loop(0.1)
        asker.disconnect()
        assert done.wait(WAIT_S), f"{len(received)} of {len(payloads)} arrived"
    return received


def test_packets_queued_together_go_out_whole_and_in_order_in_few_writes(monkeypatch):
    sends = _counting(monkeypatch, "_sock_send", SENDER)
    payloads = _payloads(2 * BufferedClient.WRITE_CHUNK + 17)  # larger than a write
    buffered_sends, paho_sends = _whole_and_in_order(_answer, payloads, sends)
    assert paho_sends >= len(payloads)  # paho: a send for each packet
    assert buffered_sends * 50 < paho_sends, (buffered_sends, paho_sends)


def test_a_disconnect_is_sent_before_the_socket_closes():
    """The broker publishes a client's will when its connection ends without a DISCONNECT."""
    topic = f"gtx-test-{uuid.uuid4().hex[:8]}/will"
    heard = []
    watcher = _connected(mqtt.Client, RECEIVER + uuid.uuid4().hex[:8], subscribe=topic)
    watcher.on_message = lambda client, userdata, message: heard.append(message.payload)
    watcher.loop_start()
    with _closed_after(watcher):
        leaving = _connected(BufferedClient, SENDER + uuid.uuid4().hex[:8], topic=topic, payload=b"left")
        leaving.loop_start()
        leaving.disconnect()
        leaving.loop_stop()
        lost = _connected(BufferedClient, SENDER + uuid.uuid4().hex[:8], topic=topic, payload=b"lost")
        lost.loop_start()
        lost.loop_stop()
        lost._write_pending = bytearray()
        super(BufferedClient, lost)._sock_close()  # gone without a word: the will is published
        deadline = time.monotonic() + WAIT_S
        while b"lost" not in heard and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heard == [b"lost"]  # the first client's will, had its disconnect been lost, came before
