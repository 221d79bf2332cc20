"""Local sites on this machine: the one launcher of `make run`, the tests and the benchmarks.

- ``localnet.devservers``: finds or starts PostgreSQL and Redis (`make run`, `make test`).
- ``localnet.network``: plans, prepares and starts N sites of a genesis
  (``manage.py network`` and the tests' ``start_network``/``start_site``).
- ``manage.py start`` (``localnet/management/commands/start.py``): one site's
  processes (daphne, Celery workers, beat), built by ``localnet.processes``.

It sits beside the apps, not in them: it imports chain (genesis, chain head) and is
named by the composition root (gridtokenx_site.settings), and no app imports it.
"""

import os
from pathlib import Path

# The launcher reads the site's settings (log sizes, queue names) also when a benchmark or
# script imports it without Django having been set up, as manage.py and Celery set it.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")

#: The checkout: manage.py, the demo genesis, .node and .devdata are under it.
BASE_DIR = Path(__file__).resolve().parent.parent
