"""The command lines of a site's processes: daphne, two Celery workers (three with intake
shards) and Celery beat.

``manage.py start`` runs them, and every local site (localnet.network) starts
through it: one place for their flags.
"""

import subprocess
import sys
import time
from pathlib import Path

import psutil
from django.conf import settings

from chain.sharding import MAX_SHARDS, shard_queue


def site_commands(
    *,
    host: str,
    port: int,
    queue: str,
    worker_name: str,
    concurrency: int = 2,
    beat_schedule: Path | None = None,
) -> list[list[str]]:
    """daphne on ``host:port``, two Celery workers, and beat when ``beat_schedule`` is given.

    The consensus worker runs the chain's tasks one at a time in its own
    process (``--pool solo``): steps take the consensus lock one at a time
    anyway, and a pool's hand-off from parent to child process was one more
    wake-up on every hop of a height (p50 at 1,500 tx/s: 1.3 s against 1.7 s).
    The other worker (``concurrency`` processes) runs everything else, so that
    a regulator's chain audit never holds up a vote.

    Beat drives block production on a validator and the pull of blocks on a follower
    (its schedule follows GTX_NODE_TYPE); ``worker_name`` must differ between sites
    sharing one Redis, or Celery reports a name clash.
    """
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "gridtokenx_site"]
    # Sites share one Redis: without these each worker hears every other's
    # heartbeats and events, which nothing here reads.
    quiet = ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    commands = [
        # daphne, refusing bodies over GTX_MAX_BODY_BYTES while they arrive.
        [
            python,
            "-m",
            "gridtokenx_site.daphne_server",
            "-b",
            host,
            "-p",
            str(port),
            "gridtokenx_site.asgi:application",
        ],
        [
            *celery,
            "worker",
            "-Q",
            queue + settings.GTX_CONSENSUS_QUEUE_SUFFIX,  # where CELERY_TASK_ROUTES sends chain.*
            "--pool",
            "solo",
            "-n",
            f"consensus.{worker_name}@%h",
            *quiet,
        ],
        [
            *celery,
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "-n",
            f"{worker_name}@%h",
            *quiet,
        ],
    ]
    if settings.GTX_SHARDING:
        # Intake's shards (docs/SCALING.md): here one worker takes every shard's queue; another
        # host adds workers for some shards with `celery worker -Q <queue>-shard-N`.
        shard_queues = ",".join(shard_queue(queue, n) for n in range(MAX_SHARDS))
        commands.append(
            [
                *celery,
                "worker",
                "-Q",
                shard_queues,
                "--concurrency",
                str(concurrency),
                "-n",
                f"shards.{worker_name}@%h",
                *quiet,
            ]
        )
    if beat_schedule is not None:
        commands.append([*celery, "beat", "--loglevel", "WARNING", "-s", str(beat_schedule)])
    if meters_demo():
        # The MQTT bridge and the demo meters (meters/management/commands).
        manage = str(Path(__file__).resolve().parent.parent / "manage.py")
        commands += [[python, manage, "meters_bridge"], [python, manage, "meter_simulator"]]
    return commands


def meters_demo() -> bool:
    """GTX_METERS_DEMO=1 (``make run``): the site runs the meter bridge and simulator too."""
    return getattr(settings, "GTX_METERS_DEMO", False)


def stop_processes(procs: list[subprocess.Popen], timeout_s: int = 15) -> None:
    """SIGTERM each process, then SIGKILL whatever (with its children) is still there after ``timeout_s``."""
    family = []
    for proc in procs:
        try:
            family += psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _, alive = psutil.wait_procs(family, timeout=max(0.1, deadline - time.monotonic()))
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
