"""A TCP relay in front of one site's port, inside that site's network namespace.

The site's daphne listens on 127.0.0.1 in its namespace; this relay listens on the
namespace's bridge address and forwards every connection to it. Each connection
gets the link figures of both ends (the site's and the connecting address's), read
from a JSON file the nemesis rewrites: ``{"10.x.y.1": {"delay_ms": 100, "jitter_ms":
50, "loss_pct": 5, "reset_pct": 2}, ...}`` (absent: a perfect link).

What an application over TCP sees of a bad link, and only that (tc netem is missing
from this kernel): every chunk is held for delay ± jitter, in order within its
connection (TCP never reorders bytes), so messages on different connections arrive
out of order; a lost segment costs a retransmission (200 ms, doubling, as the
kernel's minimum RTO); a connection may be reset when it opens.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import time

READ_BYTES = 65_536
MIN_RTO_S = 0.2
MAX_RETRANSMISSIONS = 5


class LinkTable:
    """The link figures by address, re-read when the file changes (checked every 100 ms)."""

    def __init__(self, path: str):
        self.path = path
        self.links: dict[str, dict] = {}
        self.mtime_ns: int | None = None
        self.checked = 0.0

    def figures(self, address: str) -> dict:
        now = time.monotonic()
        if now - self.checked > 0.1:
            self.checked = now
            try:
                mtime_ns = os.stat(self.path).st_mtime_ns
                if mtime_ns != self.mtime_ns:
                    with open(self.path) as file:
                        self.links = json.load(file)
                    self.mtime_ns = mtime_ns
            except (OSError, ValueError):
                self.links, self.mtime_ns = {}, None
        return self.links.get(address, {})

    def between(self, a: str, b: str) -> dict:
        """Both ends' figures together: delays add, losses compound."""
        x, y = self.figures(a), self.figures(b)

        def both_lose(key: str) -> float:
            return 1 - (1 - x.get(key, 0) / 100) * (1 - y.get(key, 0) / 100)

        return {
            "delay_s": (x.get("delay_ms", 0) + y.get("delay_ms", 0)) / 1000,
            "jitter_s": (x.get("jitter_ms", 0) + y.get("jitter_ms", 0)) / 1000,
            "loss": both_lose("loss_pct"),
            "reset": both_lose("reset_pct"),
        }


def chunk_delay_s(link: dict, rng: random.Random) -> float:
    delay = max(0.0, link["delay_s"] + rng.uniform(-link["jitter_s"], link["jitter_s"]))
    rto = MIN_RTO_S
    for _ in range(MAX_RETRANSMISSIONS):
        if rng.random() >= link["loss"]:
            break
        delay += rto
        rto *= 2
    return delay


async def pump(reader, writer, link_of, rng: random.Random) -> None:
    """Copy one direction, each chunk delivered at its own time but never before the previous one."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    delivery = asyncio.create_task(deliver())
    last_due = 0.0
    try:
        while True:
            data = await reader.read(READ_BYTES)
            last_due = max(last_due, loop.time() + chunk_delay_s(link_of(), rng))
            queue.put_nowait((last_due, data))
            if not data:
                break
        await delivery
    finally:
        delivery.cancel()


async def relay_connection(client_reader, client_writer, *, listen: str, port: int, table, rng) -> None:
    peer = client_writer.get_extra_info("peername")[0]

    def link_of():
        return table.between(listen, peer)

    if rng.random() < link_of()["reset"]:
        client_writer.transport.abort()  # an RST, as a middlebox or a lost SYN-ACK storm gives
        return
    try:
        site_reader, site_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        client_writer.transport.abort()  # the site is down: refused, as it would be without us
        return
    try:
        await asyncio.gather(
            pump(client_reader, site_writer, link_of, rng), pump(site_reader, client_writer, link_of, rng)
        )
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        for writer in (client_writer, site_writer):
            with contextlib.suppress(Exception):
                writer.transport.abort()


async def serve(listen: str, port: int, links: str) -> None:
    table = LinkTable(links)
    rng = random.Random()  # noqa: S311 - traffic decides how many draws; the schedule is what is seeded

    async def handle(reader, writer):
        await relay_connection(reader, writer, listen=listen, port=port, table=table, rng=rng)

    server = await asyncio.start_server(handle, host=listen, port=port, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="the namespace's bridge address")
    parser.add_argument("--port", type=int, required=True, help="the site's port (on 127.0.0.1 inside)")
    parser.add_argument("--links", required=True, help="the JSON file of link figures by address")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.port, args.links))


if __name__ == "__main__":
    main()
