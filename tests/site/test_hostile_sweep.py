"""A few thousand hostile inputs at every route, form and stream of a real site: no 5xx, no 1011.

The routes come from the site's own URL configuration (every page and REST
endpoint, not a list someone remembered); the forms from the pages themselves,
as a logged-in trader, regulator and staff member see them (their fields, and
the htmx field checks). Every route gets hostile path parameters and query
strings, every form hostile values in each field, the JSON endpoints hostile
documents, the streams junk frames and unknown paths. Each answer must be a
2xx, 3xx or 4xx, each stream close a documented code; afterwards the site's
log holds no traceback (refusals are one line). The counts are printed.

The sweep runs on a site of its own: hostile logins and sign-ups must not
lock out or crowd the session's shared ``live_site``.
"""

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from html.parser import HTMLParser
from urllib.parse import quote_from_bytes, urljoin

import httpx
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chain.management.commands.init import DEMO_PASSWORD
from localnet.network import Site, start_site, stop_site

pytestmark = pytest.mark.live

#: Values for path parameters, query parameters and form fields, as raw bytes (percent-encoded
#: on the wire): numbers in every wrong shape, hex of every wrong length and case, text
#: PostgreSQL cannot store, injections, and sizes from nothing to 10,000 bytes.
HOSTILE = [
    b"",
    b" ",
    b"0",
    b"-1",
    b"1.5",
    b"1e3",
    b"NaN",
    b"0x10",
    "²".encode(),  # str.isdigit() is true, int() refuses it
    "٣".encode(),  # an Arabic-Indic three: int() reads it as 3
    b"9" * 19,  # past a bigint
    b"9" * 40,
    b"9" * 5000,  # past int()'s 4,300 digits
    b"a" * 64 + b"\n",  # a trailing newline after an address
    b" " + b"a" * 64,
    b"A" * 64,
    b"a" * 63,
    b"a" * 65,
    b"g" * 64,
    b"\x00",
    b"a\x00b",
    b"\xff\xfe",  # not UTF-8
    b"\xed\xa0\x80",  # a UTF-16 surrogate spelled in UTF-8
    "\u202e\u0000".encode(),
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢".encode(),
    b"'; DROP TABLE chain_account; --",
    b"<script>alert(1)</script>",
    b"../../../../etc/passwd",
    b"%00",
    b"%",
    b"null",
    b"[]",
    b'{"a": 1}',
    b"true",
    b"\r\nSet-Cookie: x=1",
    b"${jndi:ldap://127.0.0.1/x}",
    b"bangkok",
    b"BANGKOK",
    b"x" * 10_000,
]
#: A shorter list: for the pages (the REST routes get every value) and each field of a form alone.
HOSTILE_SHORT = [HOSTILE[i] for i in (0, 3, 4, 8, 12, 13, 15, 19, 21, 22, 25, 38)]
#: Query parameters any view reads.
QUERY_NAMES = [
    "slot",
    "zone",
    "limit",
    "levels",
    "account",
    "status",
    "voter",
    "q",
    "include",
    "cursor",
    "resolution",
    "page",
    "field",
    "format",
    "offset",
    "next",
]
#: Documents for the JSON endpoints: each shape the decoder or admission must refuse.
TX = {
    "chain_id": "gridtokenx-th-demo-1",
    "sender": "ab" * 32,
    "nonce": 0,
    "kind": "transfer",
    "payload": {"to": "cd" * 32, "amount": 1},
    "signature": "ef" * 64,
}
HOSTILE_JSON = [
    "[" * 1000 + "]" * 1000,
    '{"a":' * 1000 + "1" + "}" * 1000,
    "[" * 100_000,
    '{"sender": "a", "sender": "b"}',
    '{"nonce": NaN}',
    '{"nonce": 1e400}',
    '{"nonce": ' + "9" * 5000 + "}",
    '{"memo": "\\u0000"}',
    '{"memo": "\\ud800"}',
    "[]",
    "{}",
    "null",
    "0",
    '"tx"',
    json.dumps([TX] * 5001),
    json.dumps([1, 2, 3]),
    json.dumps({**TX, "extra": 1}),
    json.dumps({**TX, "nonce": -1}),
    json.dumps({**TX, "nonce": 2**64}),
    json.dumps({**TX, "nonce": 1.0}),
    json.dumps({**TX, "nonce": True}),
    json.dumps({**TX, "sender": "ab" * 32 + "\n"}),
    json.dumps({**TX, "sender": "AB" * 32}),
    json.dumps({**TX, "signature": None}),
    json.dumps({**TX, "kind": ["transfer"]}),
    json.dumps({**TX, "kind": "meter_reading"}),
    json.dumps({**TX, "chain_id": {"a": 1}}),
    json.dumps({**TX, "payload": []}),
    json.dumps({**TX, "payload": {"to": "cd" * 32, "amount": -5}}),
    json.dumps({**TX, "payload": {"to": "cd" * 32, "amount": 10**30}}),
    json.dumps({**TX, "payload": {"to": "cd" * 32 + "\n", "amount": 1}}),
    json.dumps({**TX, "payload": {"to": "cd" * 32, "amount": 1, "memo": "x" * 100_000}}),
]
#: Stream frames that are not a ping.
JUNK_FRAMES = [
    "",
    "{",
    "[" * 2000,
    '{"type": "ping", "type": "x"}',
    '{"type": NaN}',
    "null",
    "[]",
    '"ping"',
    '{"type": ["ping"]}',
    '{"type": "subscribe", "group": "chain"}',
    b"\x00\x01binary",
    b'{"type": "ping"}',
]
STREAMS = ["/ws/chain/", "/ws/market/", "/ws/grid/"]
#: Close codes the streams document (docs/PROTOCOL.md): normal, bad query, no such stream, too big.
STREAM_CLOSE_CODES = {1000, 4400, 4404, 4413}
PERSONAS = ["solar_somchai", "erc_auditor", "admin"]
JSON_ENDPOINTS = ["/api/v1/transactions/", "/api/v1/meters/readings/"]
#: daphne (Twisted) closes the connection, unanswered, on a request line or headers over 16 KB.
MAX_REQUEST_LINE = 15_000
#: Forms the sweep leaves alone: logging out would end its own session.
SKIPPED_ACTIONS = ("/accounts/logout/",)


class FormFinder(HTMLParser):
    """Every form on a page (action, method, fields with their values) and every hx-post URL."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[dict] = []
        self.hx_posts: set[str] = set()
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("hx-post"):
            self.hx_posts.add(urljoin(self.page_url, attrs["hx-post"]))
        if tag == "form":
            action = urljoin(self.page_url, attrs.get("action") or self.page_url)
            self._form = {"action": action, "method": (attrs.get("method") or "get").lower(), "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and attrs.get("name"):
            self._form["fields"].setdefault(attrs["name"], attrs.get("value") or "")
            self._select = attrs["name"] if tag == "select" else None
        elif tag == "option" and self._form is not None and self._select:
            if not self._form["fields"].get(self._select):
                self._form["fields"][self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def route_templates() -> list[tuple[str, tuple]]:
    """Every page and REST route of the site: (path with {name} holes, ((name, converter class), ...))."""
    found = []

    def walk(patterns, prefix: str):
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                if route == "admin/":  # Django's own admin: its login form only
                    found.append(("/admin/login/", ()))
                else:
                    walk(entry.url_patterns, prefix + route)
                continue
            assert isinstance(entry, URLPattern)
            template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "/" + prefix + route)
            converters = getattr(entry.pattern, "converters", {})
            found.append((template, tuple(sorted((n, type(c).__name__) for n, c in converters.items()))))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def fill(template: str, holes: tuple, value: bytes, only: dict | None = None) -> str:
    """``template`` with every hole ``value`` (an int hole takes it only when it is all digits),
    or with ``only``'s value in the holes it names."""
    path = template
    for name, kind in holes:
        text = (only or {}).get(name, value)
        text = text if kind != "IntConverter" or text.isdigit() else b"1"
        path = path.replace("{" + name + "}", quote_from_bytes(text, safe=""))
    return path


def hostile_query(value: bytes) -> str:
    """Every query parameter set to ``value``."""
    return "&".join(f"{name}={quote_from_bytes(value, safe='')}" for name in QUERY_NAMES)


def form_body(fields: dict[str, bytes]) -> bytes:
    return "&".join(
        f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in fields.items()
    ).encode()


class Sweep:
    """Sends the inputs and counts what came back."""

    def __init__(self, site: Site):
        self.site = site
        self.tried = 0
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self.stream_tried = 0
        self.closes: Counter = Counter()
        #: Inputs per part of the sweep, for the report.
        self.parts: Counter = Counter()
        #: The parts run side by side, each in its own thread.
        self._counting = threading.Lock()

    def send(
        self, part: str, client: httpx.Client, method: str, path: str, **kwargs
    ) -> httpx.Response | None:
        try:
            response = client.request(method, self.site.url + path, **kwargs)
        except httpx.HTTPError as exc:
            response = None
            error = f"{method} {path[:160]}: {type(exc).__name__} {exc}"
        else:
            error = f"{method} {path[:160]} -> {response.status_code}" if response.status_code >= 500 else ""
        with self._counting:
            self.tried += 1
            self.parts[part] += 1
            if response is not None:
                self.statuses[response.status_code // 100 * 100] += 1
            if error:
                self.server_errors.append(error)
        return response

    def get(self, part: str, client: httpx.Client, template: str, holes: tuple, value: bytes) -> None:
        """The route with ``value`` in its path and every query parameter, under the 16 KB request line."""
        path, query = fill(template, holes, value), hostile_query(value)
        if len(path) >= MAX_REQUEST_LINE:  # several holes of a long value: one hole at a time
            for hole in holes:
                self.send(part, client, "GET", fill(template, holes, b"1", {hole[0]: value}))
            return
        if len(path) + len(query) < MAX_REQUEST_LINE:
            self.send(part, client, "GET", f"{path}?{query}")
        else:  # daphne drops a longer request line unanswered: send the two halves apart
            self.send(part, client, "GET", path)
            self.send(part, client, "GET", f"{fill(template, holes, b'1')}?{query[:MAX_REQUEST_LINE]}")
        if holes:
            self.send(part, client, "GET", path)

    def logged_in(self, username: str) -> httpx.Client:
        client = httpx.Client(timeout=30, follow_redirects=False)
        client.get(self.site.url + "/accounts/login/")
        token = client.cookies["csrftoken"]
        response = client.post(
            self.site.url + "/accounts/login/",
            data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302, f"{username} could not log in: {response.status_code}"
        return client

    def forms_of(self, client: httpx.Client, routes) -> dict[str, dict[str, str]]:
        """{action URL path: {field: the page's value}} of every POST form and htmx check the client sees."""
        targets: dict[str, dict[str, str]] = {}
        checks: set[str] = set()
        for template, holes in routes:
            page = client.get(self.site.url + fill(template, holes, b"1"))
            if page.status_code != 200 or "text/html" not in page.headers.get("content-type", ""):
                continue
            finder = FormFinder(str(page.url))
            finder.feed(page.text)
            for form in finder.forms:
                if form["method"] == "post":
                    targets.setdefault(form["action"], {}).update(form["fields"])
            checks |= finder.hx_posts
        for check in checks:  # a field check takes the fields of the form it checks
            targets.setdefault(
                check, dict(targets.get(check.split("?")[0].replace("/check/", "/submit/"), {}))
            )
        prefix = len(self.site.url)
        return {
            action[prefix:]: fields
            for action, fields in targets.items()
            if action.startswith(self.site.url) and not action[prefix:].startswith(SKIPPED_ACTIONS)
        }

    def post_forms(self, client: httpx.Client, forms: dict[str, dict[str, str]]) -> None:
        """Every field of each form hostile at once, then each field alone (the others as the page had them)."""
        token = client.cookies["csrftoken"]
        headers = {"content-type": "application/x-www-form-urlencoded", "x-csrftoken": token}
        for action, fields in sorted(forms.items()):
            names = [n for n in fields if n != "csrfmiddlewaretoken"]
            defaults = {n: fields[n].encode() for n in names}
            for value in HOSTILE[::2]:
                body = form_body({"csrfmiddlewaretoken": token.encode(), **dict.fromkeys(names, value)})
                self.send("forms", client, "POST", action, content=body, headers=headers)
            for name in names:
                for value in HOSTILE_SHORT[::2]:
                    body = form_body({"csrfmiddlewaretoken": token.encode(), **defaults, name: value})
                    self.send("forms", client, "POST", action, content=body, headers=headers)

    def missing_pages_at_once(self, clients: list[httpx.Client], rounds: int = 5) -> None:
        """A dozen 404s at once for logged-in people, then a page: the site must still answer it.

        Django renders error pages outside the request's thread; each such thread once kept
        the connection the session lookup took, until the site's pool of four had none left
        and every request failed after 30 s (gridtokenx_site/executor.py).
        """
        asks = [(clients[i % len(clients)], f"/no-such-page-{i}/") for i in range(12)]
        with ThreadPoolExecutor(len(asks)) as pool:
            for _ in range(rounds):
                list(pool.map(lambda ask: self.send("missing pages", ask[0], "GET", ask[1]), asks))
        market = clients[0].get(self.site.url + "/market/")
        assert market.status_code == 200, f"after parallel 404s the market answered {market.status_code}"

    def post_json(self, client: httpx.Client) -> None:
        for path in JSON_ENDPOINTS:
            for document in HOSTILE_JSON:
                self.send(
                    "json",
                    client,
                    "POST",
                    path,
                    content=document,
                    headers={"content-type": "application/json"},
                )
            for media_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
                headers = {"content-type": media_type}
                self.send("json", client, "POST", path, content=b'{"a": 1}', headers=headers)

    def streams(self) -> None:
        """Junk frames on each stream (each answered with an error frame), an oversized one, unknown paths."""
        for path in STREAMS:
            with connect(self.site.ws_url + path, origin=self.site.url, open_timeout=10) as stream:
                for frame in JUNK_FRAMES:
                    self.stream_tried += 1
                    stream.send(frame)
                    while (reply := json.loads(stream.recv(timeout=10)))["type"] != "error":
                        pass  # "subscribed", or a block that arrived meanwhile
                    assert reply["error"]["code"], reply
                self.stream_tried += 1
                stream.send("x" * 100_000)
                self.closes[closed_code(stream)] += 1
        for value in HOSTILE[:24]:
            self.stream_tried += 1
            url = f"{self.site.ws_url}/ws/{quote_from_bytes(value, safe='')}/"
            with connect(url, origin=self.site.url, open_timeout=10) as stream:
                self.closes[closed_code(stream)] += 1

    def report(self, seconds: float) -> str:
        statuses = ", ".join(f"{k // 100}xx {v}" for k, v in sorted(self.statuses.items()))
        parts = ", ".join(f"{name} {count}" for name, count in self.parts.items())
        return (
            f"hostile sweep: {self.tried} HTTP inputs ({parts}) in {seconds:.0f} s ({statuses}; "
            f"server errors {len(self.server_errors)}), {self.stream_tried} stream inputs "
            f"(closes {dict(self.closes)})"
        )


def closed_code(stream) -> int:
    """The close code the server sent, reading (bounded) whatever came before it."""
    for _ in range(100):
        try:
            stream.recv(timeout=10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
    raise AssertionError("the stream was not closed")


def run_sweep(site: Site) -> Sweep:
    """Every input above, at ``site``, in parts side by side: anonymous routes, JSON, each persona.

    Side by side because a site must stay whole under parallel requests: run in turn,
    the sweep never showed that error pages, which Django renders outside the request's
    thread, kept the site's pooled connections until none were left
    (gridtokenx_site/executor.py).
    """
    sweep = Sweep(site)
    routes = route_templates()

    def anonymous_routes() -> None:
        with httpx.Client(timeout=30, follow_redirects=False) as anonymous:
            for index, (template, holes) in enumerate(routes):
                values = HOSTILE if template.startswith("/api/") else HOSTILE_SHORT
                # Every other value, the other half on the next route: each value still meets
                # every kind of path parameter and query (routes share them), at half the inputs.
                for value in values[index % 2 :: 2]:
                    sweep.get("routes", anonymous, template, holes, value)

    def anonymous_json() -> None:
        with httpx.Client(timeout=30, follow_redirects=False) as anonymous:
            sweep.post_json(anonymous)

    def persona(client: httpx.Client) -> None:
        try:
            sweep.post_forms(client, sweep.forms_of(client, routes))
            for index, (template, holes) in enumerate(routes):  # the pages past the login page
                if not template.startswith("/api/"):
                    for value in HOSTILE_SHORT[index % 6 :: 6]:  # as above: two a page, in turn
                        sweep.get("pages", client, template, holes, value)
        finally:
            client.close()

    # Every persona logs in before any hostile login form is sent: those count as failed
    # logins from this address, which the site then limits (docs/SECURITY.md).
    clients = [sweep.logged_in(username) for username in PERSONAS]
    sweep.missing_pages_at_once(clients)
    parts = [anonymous_routes, anonymous_json, *(partial(persona, client) for client in clients)]
    with ThreadPoolExecutor(len(parts)) as pool:
        for done in [pool.submit(part) for part in parts]:
            done.result()
    sweep.streams()
    return sweep


def test_hostile_inputs_at_every_route_form_and_stream_get_no_server_error(tmp_path_factory, capsys):
    site, procs = start_site(tmp_path_factory.mktemp("hostile_sweep"))
    started = time.monotonic()
    try:
        sweep = run_sweep(site)
        log = (site.run_dir / "site.log").read_text(errors="replace")
    finally:
        stop_site(site, procs)
    with capsys.disabled():
        print("\n" + sweep.report(time.monotonic() - started))
    assert sweep.server_errors == []
    assert sweep.tried >= 3000 and sweep.statuses[400] >= 500
    assert set(sweep.closes) <= STREAM_CLOSE_CODES
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]
