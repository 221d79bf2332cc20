"""A refusal is one line in the site's log, a real 500 keeps its traceback, and site logs rotate."""

import logging
import subprocess
import sys

import pytest

from gridtokenx_site.logs import MAX_REASON_CHARS
from localnet.logs import SiteLog


def console_output(records: list[logging.LogRecord]) -> str:
    """What the site's configured log handler (settings.LOGGING) writes for ``records``."""
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    return "".join(handler.format(r) + "\n" for r in records if handler.filter(r))


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("django.request", "django.security"))]


@pytest.mark.django_db
def test_a_permission_denied_page_logs_one_line_without_a_traceback(login_as, caplog):
    with caplog.at_level(logging.WARNING):
        response = login_as("home_malee").get("/wallets/solar_somchai/")
    assert response.status_code == 403
    output = console_output(request_records(caplog))
    assert output.count("\n") == 1 and "Traceback" not in output
    assert "Forbidden (Permission denied): /wallets/solar_somchai/" in output
    assert "PermissionDenied: Only regulators and staff" in output


@pytest.mark.django_db
def test_a_disallowed_host_logs_one_line_without_a_traceback(client, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.get("/", HTTP_HOST="evil.example\\nforged")
    assert response.status_code == 400
    output = console_output(request_records(caplog))
    assert output.count("\n") == 1 and "Traceback" not in output
    assert "DisallowedHost" in output


@pytest.mark.django_db
def test_an_oversized_form_logs_one_line_without_a_traceback(login_as, caplog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    with caplog.at_level(logging.WARNING):
        response = login_as("home_malee").post("/accounts/login/", {"username": "x" * 5000, "password": "y"})
    assert response.status_code == 400
    output = console_output(request_records(caplog))
    assert output.count("\n") == 1 and "Traceback" not in output


def test_a_refusal_reason_is_escaped_and_cut_to_one_short_line():
    try:
        raise PermissionError("line one\nline two " + "x" * 1000)
    except PermissionError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/p",), sys.exc_info()
        )
    record.status_code = 403
    output = console_output([record])
    assert output.count("\n") == 1 and "line one\\nline two" in output
    assert len(output) < MAX_REASON_CHARS + 200


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("a real bug")
    except RuntimeError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/p",), sys.exc_info()
        )
    record.status_code = 500
    output = console_output([record])
    assert "Traceback (most recent call last)" in output and "RuntimeError: a real bug" in output


WRITER = """
import os, sys
for _ in range(int(sys.argv[1])):
    os.write(1, b"x" * 99 + b"\\n")  # one write a line, as logging's handlers flush each record
"""


def test_a_site_log_rotates_at_its_size_and_keeps_its_backups(tmp_path):
    path = tmp_path / "site.log"
    log = SiteLog(path, max_bytes=10_000, backups=3)
    # Two processes write the one pipe, as a site's daphne and workers do.
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, "500"], stdout=log.output, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    log.started()
    for writer in writers:
        assert writer.wait(timeout=30) == 0
    log.thread.join(timeout=30)
    assert not log.thread.is_alive()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["site.log", "site.log.1", "site.log.2", "site.log.3"]
    assert all((tmp_path / name).stat().st_size <= 10_000 for name in files)
    assert set(path.read_text().splitlines()) == {"x" * 99}
