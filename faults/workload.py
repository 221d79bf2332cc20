"""Signed transfers among a fixed set of demo accounts, each sent to a random site.

One client thread per account, as a wallet would be: it signs its next transfer to
another account of the set, posts it to a site picked at random and records what the
site said. A 202 is an acknowledgement the checker holds the site to. A refusal for a
nonce gap (the site has not yet heard of the client's previous transaction) is retried
at random sites a few times, then the client takes the site's next nonce, as a client
that gives up on what it sent would; a replayed nonce takes it at once. A timeout or a
dropped connection is indeterminate: the same signed transaction is sent once to
another site, and its fate is reported apart from the acknowledged ones.
"""

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from gtxclient import Accepted, Key, Refused, Site, Unanswered, sign_transaction

ACCOUNTS = ("solar_somchai", "wind_korat", "hydro_nan", "home_malee", "factory_rayong", "bkk_community_solar")
CHAIN_ID = "gridtokenx-th-demo-1"
EXPECTED_NONCE = re.compile(r"Expected nonce (\d+)")
GAP_RETRIES = 4
REQUEST_TIMEOUT_S = 5.0


@dataclass
class Ack:
    tx_hash: str
    sender: str
    nonce: int
    site: str
    at_s: float


@dataclass
class History:
    """What every client sent and what it was told; shared by the client threads."""

    acks: list[Ack] = field(default_factory=list)
    #: tx hash -> the site a request with no answer went to.
    indeterminate: dict[str, str] = field(default_factory=dict)
    refusals: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, ack: Ack) -> None:
        with self.lock:
            self.acks.append(ack)
            self.indeterminate.pop(ack.tx_hash, None)

    def refused(self, code: str) -> None:
        with self.lock:
            self.refusals[code] += 1

    def unknown(self, tx_hash: str, site: str) -> None:
        with self.lock:
            self.indeterminate.setdefault(tx_hash, site)


def account_addresses() -> dict[str, str]:
    return {name: Key.demo(name).address for name in ACCOUNTS}


class Client(threading.Thread):
    """Sends one account's transfers until ``stop`` is set."""

    def __init__(self, account: str, sites: dict[str, str], history: History, *, seed: int, stop, zero):
        super().__init__(name=f"client-{account}", daemon=True)
        self.key = Key.demo(account)
        self.address = self.key.address
        self.recipients = [a for n, a in account_addresses().items() if n != account]
        self.sites = sites
        self.history = history
        self.rng = random.Random(seed)  # noqa: S311 - reproducible choices, not secrets
        self.stop = stop
        self.zero = zero
        self.nonce: int | None = None

    def run(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, trust_env=False) as http:
            self.apis = {name: Site(url, http=http) for name, url in self.sites.items()}
            while not self.stop.is_set():
                if self.nonce is None:
                    self.nonce = self.next_nonce()
                    if self.nonce is None:
                        self.stop.wait(0.5)
                        continue
                self.send_one()
                self.stop.wait(self.rng.uniform(0.1, 0.4))

    def next_nonce(self) -> int | None:
        site = self.rng.choice(list(self.sites))
        try:
            account = self.apis[site].account(self.address)
        except (Unanswered, Refused):
            return None
        return account["next_nonce"] if account else None

    def post(self, site: str, tx) -> Accepted | Refused | None:
        """The site's answer (Accepted or Refused), or None when it gave none."""
        try:
            return self.apis[site].submit([tx])
        except Refused as refused:
            return refused
        except Unanswered:
            return None

    def send_one(self) -> None:
        tx = sign_transaction(
            self.key,
            chain_id=CHAIN_ID,
            nonce=self.nonce,
            kind="transfer",
            payload={"to": self.rng.choice(self.recipients), "amount": self.rng.randint(1, 500)},
        )
        for attempt in range(GAP_RETRIES + 1):
            site = self.rng.choice(list(self.sites))
            response = self.post(site, tx)
            if response is None:
                self.history.unknown(tx.hash, site)
                retry_site = self.rng.choice([s for s in self.sites if s != site])
                response = self.post(retry_site, tx)
                if response is None:
                    self.nonce = None  # ask a site again before the next transfer
                    return
                site = retry_site
            if isinstance(response, Accepted):
                self.history.ack(Ack(tx.hash, self.address, tx.nonce, site, time.monotonic() - self.zero))
                self.nonce += 1
                return
            code = response.code
            self.history.refused(code)
            if code == "nonce_gap" and attempt < GAP_RETRIES:
                self.stop.wait(0.3)
                continue
            if code in ("nonce_gap", "nonce_replayed"):
                match = EXPECTED_NONCE.search(response.text)
                self.nonce = int(match.group(1)) if match else None
            elif code == "duplicate":
                self.nonce += 1  # that site holds this very transaction already
            elif response.status in (429, 503):
                self.stop.wait(1.0)
            return


def start_clients(sites: dict[str, str], history: History, *, seed: int, stop, zero) -> list[Client]:
    clients = [
        Client(account, sites, history, seed=seed * 100 + i, stop=stop, zero=zero)
        for i, account in enumerate(ACCOUNTS)
    ]
    for client in clients:
        client.start()
    return clients
