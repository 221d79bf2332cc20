"""A site's log file: the output of all its processes, rotated by one writer.

A site's processes (daphne, the Celery workers, beat) share one log file, and
only a single writer can rotate a file safely: ``SiteLog`` is that writer, fed
by a pipe the processes write to.
"""

import logging
import os
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

#: Longest piece of a log line copied at once; a longer line goes on in the next piece.
MAX_LINE_BYTES = 64 * 1024
#: C0 controls but the tab (and DEL), as escapes: what a client put in a URL cannot forge
#: a line, write a NUL or move a terminal's cursor in the site's log.
_ESCAPE_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x09), *range(0x0A, 0x20), 0x7F]}


class SiteLog:
    """One site's log file, written by this process alone from a pipe its processes share.

    Pass ``output`` as the stdout and stderr of every process of the site, then call
    ``started()``. A thread copies what they write, line by line, into a
    RotatingFileHandler: past ``max_bytes`` the file becomes ``site.log.1`` (and
    ``.1`` becomes ``.2``...), and ``backups`` old files are kept. The thread ends
    when every process that holds the pipe has exited.
    """

    def __init__(self, path: Path, *, max_bytes: int, backups: int):
        self.path = Path(path)
        self.handler = RotatingFileHandler(
            self.path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", errors="replace"
        )
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        read_fd, self.output = os.pipe()
        self.thread = threading.Thread(
            target=self._copy, args=(read_fd,), name=f"site-log {self.path.parent.name}", daemon=True
        )
        self.thread.start()

    def started(self) -> None:
        """The processes hold their own copies of the pipe: close ours, so the copy ends with them."""
        os.close(self.output)

    def _copy(self, read_fd: int) -> None:
        with open(read_fd, "rb") as pipe:
            for piece in iter(lambda: pipe.readline(MAX_LINE_BYTES), b""):
                line = piece.decode("utf-8", "replace").rstrip("\n").translate(_ESCAPE_CONTROLS)
                self.handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        self.handler.close()


def site_log(path: Path) -> SiteLog:
    """The rotating log at ``path``, sized by GTX_SITE_LOG_MAX_BYTES and GTX_SITE_LOG_BACKUPS."""
    from django.conf import settings

    return SiteLog(path, max_bytes=settings.GTX_SITE_LOG_MAX_BYTES, backups=settings.GTX_SITE_LOG_BACKUPS)
