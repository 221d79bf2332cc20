"""A site's REST API (docs/API.md): submit signed transactions, read accounts and statuses,
and follow a transaction until it is final at every site of a network."""

import json
import time
from dataclasses import dataclass, field

import httpx

from .tx import Transaction

API = "/api/v1"
#: Submission answers whose batch was good: send it again, unchanged, after ``retry_after``.
RETRY_LATER_STATUSES = (429, 503)


class Refused(Exception):
    """The site answered the request with an error; for a submission, nothing was admitted."""

    def __init__(self, status: int, body: dict | None, text: str, retry_after: float | None):
        error = (body or {}).get("error") or {}
        #: Every refused transaction of a batch, by its index (docs/PROTOCOL.md §7).
        self.problems: list[dict] = error.get("problems") or []
        self.status = status
        #: The first problem's code (the batch's), else the error's: stable, match on it.
        self.code: str = self.problems[0]["code"] if self.problems else error.get("code", f"http_{status}")
        self.message: str = error.get("message", text[:300])
        self.text = text
        self.retry_after = retry_after
        super().__init__(f"{status} {self.code}: {self.message}")

    @property
    def retry_later(self) -> bool:
        """Too busy (429, 503), not wrong: the same request may succeed after ``retry_after``."""
        return self.status in RETRY_LATER_STATUSES


class Unanswered(Exception):
    """No answer (timeout, connection refused or cut): the site may or may not have admitted the
    batch. Sending the same signed transactions again is safe: a copy is refused ``duplicate``."""


@dataclass(frozen=True)
class Accepted:
    """A 202: every transaction of the batch is in the site's mempool, or held for a predecessor."""

    hashes: list[str]
    held: list[str]


class Site:
    """One site's REST API at ``url`` (e.g. http://127.0.0.1:8000)."""

    def __init__(self, url: str, *, timeout: float = 10.0, http: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> "Site":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Site({self.url!r})"

    # -- writes ---------------------------------------------------------------------------

    def submit(self, txs: Transaction | list[Transaction]) -> Accepted:
        """POST one transaction or a batch (admitted whole or not at all): Accepted, else Refused."""
        batch = [txs] if isinstance(txs, Transaction) else list(txs)
        return self.submit_body(json.dumps([tx.wire() for tx in batch]).encode())

    def submit_body(self, body: bytes) -> Accepted:
        """POST a batch already encoded as a JSON list of wire transactions (a benchmark signs ahead)."""
        response = self._request(
            "POST", "/transactions/", content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 202:
            raise _refused(response)
        answer = response.json()
        return Accepted(hashes=answer["hashes"], held=answer["held"])

    # -- reads ----------------------------------------------------------------------------

    def transaction(self, tx_hash: str) -> dict | None:
        """The transaction's status document here (held, pending, committed, dropped), None if unknown."""
        return self._get_or_none(f"/transactions/{tx_hash}/")

    def account(self, address: str) -> dict | None:
        """Balances, stake, escrow, nonce and ``next_nonce`` here; None before the account exists."""
        return self._get_or_none(f"/accounts/{address}/")

    def next_nonce(self, address: str) -> int:
        """The nonce the account's next transaction must carry at this site (0 before it exists)."""
        account = self.account(address)
        return 0 if account is None else account["next_nonce"]

    def status(self) -> dict:
        """The site's chain id, height, state root, mempool size, consensus round and step, peers."""
        return self._get("/status/")

    def block(self, height: int) -> dict | None:
        return self._get_or_none(f"/blocks/{height}/")

    def _get(self, path: str) -> dict:
        response = self._request("GET", path)
        if response.status_code != 200:
            raise _refused(response)
        return response.json()

    def _get_or_none(self, path: str) -> dict | None:
        response = self._request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _refused(response)
        return response.json()

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self.http.request(method, f"{self.url}{API}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise Unanswered(f"{method} {self.url}{API}{path}: {exc!r}") from exc


def _refused(response: httpx.Response) -> Refused:
    try:
        body = response.json()
    except ValueError:
        body = None
    retry_after = response.headers.get("Retry-After")
    return Refused(
        response.status_code,
        body if isinstance(body, dict) else None,
        response.text,
        float(retry_after) if retry_after else None,
    )


@dataclass(frozen=True)
class Final:
    """A transaction committed at every site: its block, and whether it took effect (``ok``)."""

    tx_hash: str
    block_height: int
    block_hash: str
    ok: bool
    #: The receipt error when ``ok`` is false: {"code", "message"}.
    error: dict | None
    #: Each site's status document, by site URL.
    statuses: dict = field(repr=False)


class NotFinal(Exception):
    """Not committed at every site in time; ``statuses`` holds each site's last answer (None: unknown)."""

    def __init__(self, tx_hash: str, statuses: dict):
        self.tx_hash = tx_hash
        self.statuses = statuses
        summary = ", ".join(f"{url}: {(s or {}).get('status', 'unknown')}" for url, s in statuses.items())
        super().__init__(f"{tx_hash} is not final at every site: {summary}")


class Dropped(Exception):
    """No site holds the transaction any more and at least one dropped it (``code`` says why)."""

    def __init__(self, tx_hash: str, statuses: dict):
        self.tx_hash = tx_hash
        self.statuses = statuses
        receipt = next(s for s in statuses.values() if s and s["status"] == "dropped")
        self.code = receipt["error"]["code"]
        self.message = receipt["error"]["message"]
        super().__init__(f"{tx_hash} was dropped: {self.code}: {self.message}")


class Network:
    """Several sites of one chain: send to one, follow to final at all."""

    def __init__(self, urls: list[str], *, timeout: float = 10.0, http: httpx.Client | None = None):
        if not urls:
            raise ValueError("A network has at least one site.")
        self.sites = [Site(url, timeout=timeout, http=http) for url in urls]

    def close(self) -> None:
        for site in self.sites:
            site.close()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def statuses(self, tx_hash: str) -> dict:
        """Each site's status document of the transaction (None where it is unknown or unanswered)."""
        answers = {}
        for site in self.sites:
            try:
                answers[site.url] = site.transaction(tx_hash)
            except (Unanswered, Refused):
                answers[site.url] = None
        return answers

    def follow(self, tx_hash: str, *, timeout: float = 30.0, poll_s: float = 0.2) -> Final:
        """Poll every site until each says ``committed``: Final. Dropped when no site holds it any more
        and one dropped it; NotFinal after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses(tx_hash)
            states = [s["status"] if s else None for s in statuses.values()]
            if all(state == "committed" for state in states):
                first = next(iter(statuses.values()))
                return Final(
                    tx_hash=tx_hash,
                    block_height=first["block"]["height"],
                    block_hash=first["block"]["hash"],
                    ok=first["ok"],
                    error=first["error"],
                    statuses=statuses,
                )
            if "dropped" in states and all(state in ("dropped", None) for state in states):
                raise Dropped(tx_hash, statuses)
            if time.monotonic() >= deadline:
                raise NotFinal(tx_hash, statuses)
            time.sleep(poll_s)
