"""The command lines of a site's processes: daphne, a Celery worker and Celery beat.

``manage.py start`` and gridtokenx_site.testsite both start a site; building the
command lines in one place keeps their flags alike.
"""

import sys
from pathlib import Path


def site_commands(
    *,
    host: str,
    port: int,
    queue: str,
    worker_name: str,
    concurrency: int = 2,
    beat_schedule: Path | None = None,
) -> list[list[str]]:
    """daphne on ``host:port``, a worker on ``queue``, and beat when ``beat_schedule`` is given.

    Beat drives block production, so only validators run it; ``worker_name`` must
    differ between sites sharing one Redis, or Celery reports a name clash.
    """
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "gridtokenx_site"]
    commands = [
        [python, "-m", "daphne", "-b", host, "-p", str(port), "gridtokenx_site.asgi:application"],
        [
            *celery,
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "-n",
            f"{worker_name}@%h",
        ],
    ]
    if beat_schedule is not None:
        commands.append([*celery, "beat", "--loglevel", "WARNING", "-s", str(beat_schedule)])
    if meters_demo():
        # The MQTT bridge and the demo meters (meters/management/commands).
        manage = str(Path(__file__).resolve().parent.parent / "manage.py")
        commands += [[python, manage, "meters_bridge"], [python, manage, "meter_simulator"]]
    return commands


def meters_demo() -> bool:
    """GTX_METERS_DEMO=1 (``make run``): the site runs the meter bridge and simulator too."""
    from django.conf import settings

    return getattr(settings, "GTX_METERS_DEMO", False)
