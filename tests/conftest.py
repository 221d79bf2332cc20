"""Shared fixtures.

- ``chain``: the genesis state and demo users in pytest-django's test database,
  for service, API and view tests in this process; ``login_as`` a client for one
  of those users (the role matrices of tests/web and tests/trading/web build on it).
- ``live_site``: a whole real site for the session: its own PostgreSQL
  database, daphne, a Celery worker and beat producing blocks, talking to the
  same Redis as the tests. Tests reach it over HTTP and WebSockets only.

The session's cache keys, channel layer and Celery queues have a prefix of their
own, and nothing may flush Redis (tests/redis_guard.py): `make test` beside a
running network leaves its queued tasks and WebSocket groups alone.
"""

import tempfile
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import translation

from chain.api import shed
from chain.ledger.genesis import demo_key, load_genesis
from chain.management.commands.init import DEMO_PASSWORD
from chain.node import node_key_write, node_signing_key
from chain.services import admission
from chain.services.consensus.step import consensus_step
from chain.services.consensus.step_needed import head_due_from_cache
from chain.services.genesis import chain_init, demo_users_create
from localnet.genesis_files import solo_genesis
from localnet.network import start_site, stop_site
from tests.redis_guard import forbid_flushes, forget_session_keys, use_session_namespace

SESSION_REDIS_TAG = use_session_namespace()
forbid_flushes()


def pytest_sessionfinish(session, exitstatus):
    forget_session_keys(SESSION_REDIS_TAG)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language (English): LocaleMiddleware activates a
    request's language (a Thai cookie) in the test's thread, and nothing resets it after."""
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_head_caches():
    """Every test's chain starts at the same genesis head, whatever its tables hold: the
    due time of begin-block work read at one test's head must not answer the next test."""
    head_due_from_cache.forget()


@pytest.fixture(autouse=True)
def _intake_door_open(monkeypatch):
    """No room measured yet in this process: the room a test's intake found (none, after it
    filled the mempool) would shut the intake door (chain.api.shed) on the next test's
    requests for two seconds, answered 503 before they reach what that test checks. Nor room
    held by batches another test's door let in."""
    monkeypatch.setattr(admission, "room_seen", None)
    monkeypatch.setattr(shed, "_bytes_per_tx", shed._BytesPerTx())
    monkeypatch.setattr(shed, "held_by_passes", 0)


# The demo genesis with EGAT its only active validator: in-process tests run one site.
# A file of this test session's own: another session may be reading a different demo genesis.
GENESIS_PATH = solo_genesis(Path(tempfile.mkdtemp(prefix="gtx-tests-")))


@pytest.fixture(scope="session")
def genesis():
    return load_genesis(GENESIS_PATH)


@pytest.fixture
def node_key(tmp_path, settings):
    settings.GTX_NODE_KEY_FILE = str(tmp_path / "node_key")
    key = demo_key("EGAT")
    node_key_write(key)
    yield key
    node_signing_key.cache_clear()


@pytest.fixture
def chain(db, genesis, node_key):
    """The demo chain at height 0, with demo users (password DEMO_PASSWORD)."""
    head = chain_init(genesis)
    demo_users_create(genesis, DEMO_PASSWORD)
    return head


@pytest.fixture
def users(chain):
    return {u.username: u for u in get_user_model().objects.select_related("wallet")}


@pytest.fixture
def login_as(users):
    """A test client logged in as a demo user by username; ``None`` for an anonymous one."""

    def make(username: str | None) -> Client:
        client = Client()
        if username is not None:
            client.force_login(users[username])
        return client

    return make


#: One demo user per role: the rows of the role matrix (tests/web/test_permissions.py)
#: and of every client_as that does not name its own. Two consumers, so "another
#: consumer" is a real second person.
ROLE_USERS = {
    "anonymous": None,
    "consumer": "home_malee",
    "other_consumer": "factory_rayong",
    "producer": "solar_somchai",
    "regulator": "erc_auditor",
    "staff": "admin",
}
ROLES = tuple(ROLE_USERS)
#: The roles that read everything and change nothing on the ledger.
READERS = ("regulator", "staff")


@pytest.fixture
def client_as(login_as):
    """A test client logged in as the demo user of one of ROLES (anonymous: not logged in)."""
    return lambda role: login_as(ROLE_USERS[role])


@pytest.fixture
def produce(node_key):
    """Make the next block now: one consensus step, the block it commits.

    With this site the only validator (the tests' genesis), a step proposes, votes
    and commits the next block at once.
    """
    return lambda: consensus_step(node_key)


@pytest.fixture
def anyio_backend():
    """Async tests (``pytest.mark.anyio``) run on asyncio, as daphne does."""
    return "asyncio"


@pytest.fixture
async def close_thread_connections():
    """After an async test, close what database_sync_to_async's threads opened: the test
    database is dropped at the end, and no worker thread's connection may linger."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(scope="session")
def live_site(tmp_path_factory):
    site, procs = start_site(tmp_path_factory.mktemp("live_site"))
    yield site
    stop_site(site, procs)
