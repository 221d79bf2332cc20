"""Deployment: `check --deploy` with the documented production environment, the CSP, the body limit."""

import os
import re
import socket
import subprocess
import sys
import time

import pytest
from channels.testing import ApplicationCommunicator
from django.urls import reverse

from gridtokenx_site.asgi import application
from localnet import BASE_DIR
from localnet.devservers import free_port
from localnet.processes import site_commands

#: The production environment README.md's "Production" section documents, with stand-in secrets.
PRODUCTION_ENV = {
    "SECRET_KEY": "stand-in-for-a-generated-secret-" + "q7Zp" * 10,
    "GTX_WALLET_KEYS": "1=" + "5e" * 32,
    "ALLOWED_HOSTS": "gridtokenx.example",
    "CSRF_TRUSTED_ORIGINS": "https://gridtokenx.example",
    "GTX_BEHIND_TLS_PROXY": "1",
    "GTX_NUM_PROXIES": "1",
}


def production_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GTX_", "DJANGO_", "SECURE_"))}
    for keep in ("GTX_CHANNEL_PREFIX",):  # the test run's own Redis keys, if it has them
        if keep in os.environ:
            env[keep] = os.environ[keep]
    return {**env, **PRODUCTION_ENV}


def test_check_deploy_passes_with_the_documented_production_environment():
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_readme_documents_every_variable_of_the_production_environment():
    production = (BASE_DIR / "README.md").read_text().split("## Production", 1)[1].split("\n## ", 1)[0]
    for name in PRODUCTION_ENV:
        assert name in production, name


def test_pages_carry_a_content_security_policy_without_inline_script(chain, client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src-attr")[0]
    assert "frame-ancestors 'none'" in policy
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200 and "Content-Security-Policy" in docs
    assert INLINE_SCRIPT.search(docs.content.decode()) is None
    startup = client.get(reverse("api-docs") + "?script=")
    assert startup.status_code == 200 and startup["Content-Type"].startswith("application/javascript")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_has_an_inline_script_style_element_or_event_handler():
    templates = [
        path
        for folder in [BASE_DIR / "templates", *BASE_DIR.glob("*/templates")]
        for path in folder.rglob("*.html")
    ]
    assert len(templates) > 20
    offenders = [
        f"{path.relative_to(BASE_DIR)}: {match.group(0)}"
        for path in templates
        for match in INLINE_SCRIPT.finditer(path.read_text())
    ]
    assert offenders == []


# --- the body limit before the body is read ------------------------------------------------------


def _post(headers: list[tuple[bytes, bytes]]) -> ApplicationCommunicator:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/transactions/",
        "raw_path": b"/api/v1/transactions/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    return ApplicationCommunicator(application, scope)


async def _answer(communicator: ApplicationCommunicator) -> tuple[int, bytes]:
    start = await communicator.receive_output(timeout=5)
    body = await communicator.receive_output(timeout=5)
    return start["status"], body["body"]


@pytest.mark.anyio
async def test_a_declared_body_over_the_limit_is_refused_before_any_byte_is_read(settings):
    communicator = _post([(b"content-length", str(settings.GTX_MAX_BODY_BYTES + 1).encode())])
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": True})

    status, body = await _answer(communicator)  # without the rest of the body ever being sent

    assert status == 413 and b'"too_large"' in body
    await communicator.wait(timeout=5)


@pytest.mark.anyio
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(settings):
    communicator = _post([(b"transfer-encoding", b"chunked")])
    chunk = b" " * (1024 * 1024)
    for _ in range(settings.GTX_MAX_BODY_BYTES // len(chunk) + 1):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})

    status, body = await _answer(communicator)  # the body has not ended: more_body is still true

    assert status == 413 and b'"too_large"' in body
    await communicator.wait(timeout=5)


@pytest.mark.anyio
async def test_a_malformed_content_length_is_refused():
    communicator = _post([(b"content-length", b"12, 12")])
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": True})
    status, _ = await _answer(communicator)
    assert status == 400
    await communicator.wait(timeout=5)


# --- the same limit in the site's daphne, before the body has arrived ---------------------------


@pytest.fixture
def small_limit_daphne(tmp_path):
    """The site's daphne (as localnet.processes starts it) with a 1,000-byte body limit."""
    port = free_port()
    log = open(tmp_path / "daphne.log", "w")  # noqa: SIM115 - closed below
    command = site_commands(host="127.0.0.1", port=port, queue="unused", worker_name="unused")[0]
    proc = subprocess.Popen(
        command, env={**os.environ, "GTX_MAX_BODY_BYTES": "1000"}, cwd=BASE_DIR, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _send_head(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request's head and the start of its body, and what the server answers within 5 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head + body)
        try:
            return conn.recv(4096)
        except TimeoutError:
            return b""


POST_HEAD = b"POST /api/v1/transactions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@pytest.mark.live
def test_the_sites_daphne_refuses_a_declared_body_over_the_limit_before_it_arrives(small_limit_daphne):
    answer = _send_head(small_limit_daphne, POST_HEAD + b"Content-Length: 50000000\r\n\r\n", b" " * 100)
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer


@pytest.mark.live
def test_the_sites_daphne_refuses_a_chunked_body_once_it_passes_the_limit(small_limit_daphne):
    chunk = b"%x\r\n%s\r\n" % (600, b" " * 600)
    answer = _send_head(small_limit_daphne, POST_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", chunk * 2)
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer


@pytest.mark.live
def test_the_sites_daphne_still_serves_a_body_within_the_limit(small_limit_daphne):
    body = b"[]"
    answer = _send_head(small_limit_daphne, POST_HEAD + b"Content-Length: 2\r\n\r\n", body)
    assert answer.startswith(b"HTTP/1.1 4") and not answer.startswith(b"HTTP/1.1 413")
