"""paho's MQTT client, reading and writing its socket in large chunks: the bridge's arrivals
and answers without a GIL hand-off per byte or per packet.

paho reads one packet each time ``select`` wakes it, in three or more ``recv`` calls (the
command byte, each byte of the length, the rest). Every call gives up the GIL, and in the meters
bridge the admission thread, busy in Python, then keeps it up to the interpreter's switch
interval (5 ms) before the MQTT thread has it back. Under overload, arrivals queued in the socket
behind the admission of a batch: publish to the bridge's first look took 151 ms at p95 in one
``bench.meters`` run at three times the knee, though deciding on them took 0.1 ms.

``BufferedClient`` reads what the socket holds, up to ``READ_CHUNK`` bytes, once a wake-up, and
hands every whole packet in it to paho before it waits again. A packet cut at the chunk's end
waits, as paho's own partial reads do, for the socket to wake it with the rest.

Writing is the same story the other way: paho sends each queued packet with a ``send`` of its
own, and the bridge queues one answer per reading, so a burst of refusals was hundreds of
hand-offs on its way out. ``BufferedClient`` lets paho gather every queued packet (its
bookkeeping, ``on_publish`` and the disconnect, unchanged) and sends them with one ``send``; what
the socket does not take waits for it to be writable, ahead of anything queued later.
"""

import paho.mqtt.client as mqtt


class BufferedClient(mqtt.Client):
    READ_CHUNK = 65536
    WRITE_CHUNK = 65536

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_offset = 0
        #: Reads of the socket left in this wake-up (loop_read sets one).
        self._socket_reads = 0
        #: Packets paho has written, not yet taken by the socket, in order.
        self._write_pending = bytearray()

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """Every whole packet of one read of the socket (paho's reads one packet a wake-up)."""
        self._socket_reads = 1
        while True:
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes from the chunk read last; the socket read again only when it
        is used up and this wake-up has a read left (else ``BlockingIOError``, as an empty
        non-blocking socket: paho keeps its partial packet for the next wake-up)."""
        if self._read_offset >= len(self._read_buffer):
            if not self._socket_reads:
                raise BlockingIOError
            self._socket_reads -= 1
            data = super()._sock_recv(self.READ_CHUNK)
            if not data:  # the broker closed the connection: paho's to handle
                return data
            self._read_buffer, self._read_offset = data, 0
        start = self._read_offset
        self._read_offset = min(start + bufsize, len(self._read_buffer))
        return self._read_buffer[start : self._read_offset]

    def loop_write(self) -> mqtt.MQTTErrorCode:
        """Every packet queued, gathered by paho's own writing, in one ``send``."""
        rc = super().loop_write()
        if self._sock is None or not self._write_pending:
            return rc
        return self._send_pending() or rc

    def want_write(self) -> bool:
        return bool(self._write_pending) or super().want_write()

    def _sock_send(self, buf: bytes | bytearray) -> int:
        """Taken whole into the pending bytes, which ``loop_write`` sends once paho has gathered
        every packet queued, or ``WRITE_CHUNK`` of them (then paho keeps the rest queued, as for a
        full socket, and the loop comes back for them when the socket is writable)."""
        if self._sock is None:
            raise ConnectionError("self._sock is None")
        if len(self._write_pending) >= self.WRITE_CHUNK:
            raise BlockingIOError
        self._write_pending += buf
        return len(buf)

    def _send_pending(self) -> mqtt.MQTTErrorCode:
        try:
            sent = super()._sock_send(self._write_pending)
        except BlockingIOError:
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS  # want_write waits for the socket
        except OSError:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        del self._write_pending[:sent]
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_close(self) -> None:
        """A new connection starts with nothing read or left to write: the old one's bytes are
        not its packets. A disconnect paho has just gathered is sent before the socket closes."""
        if self._sock is not None and self._write_pending:
            try:
                self._sock.send(self._write_pending)
            except OSError:
                pass  # the connection is going: what it did not take is lost with it, as in paho
        self._write_pending = bytearray()
        self._read_buffer, self._read_offset = b"", 0
        super()._sock_close()
