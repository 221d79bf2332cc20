"""Sibling PostgreSQL databases on the server DATABASE_URL names: one per site.

A local network of sites (localnet.network: ``manage.py network`` and the tests) puts
each site's database next to the configured one, on the same server, so the
embedded PostgreSQL of ``make run`` serves them all. URLs keep their query
(the embedded server is reached through ``?host=<socket dir>``).
"""

import hashlib
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg

from localnet import BASE_DIR

#: The database a site uses when DATABASE_URL is not set; a network's sit next to it.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gridtokenx"


def database_url(base_url: str, name: str) -> str:
    """``base_url`` with its database name replaced by ``name``."""
    return urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"Not a database name for a site: {name!r}")
    return name


def _admin_connect(url: str) -> psycopg.Connection:
    admin = database_url(url, "postgres").replace("postgres://", "postgresql://", 1)
    return psycopg.connect(admin, autocommit=True)


def database_exists(url: str) -> bool:
    with _admin_connect(url) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)]).fetchone()
        )


def database_create(url: str, *, template: str | None = None) -> None:
    """Create the database ``url`` names, unless it exists: empty, or a copy of ``template``."""
    name = database_name(url)
    with _admin_connect(url) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            copy = f' TEMPLATE "{database_name(database_url(url, template))}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{copy}')


def schema_fingerprint() -> str:
    """What decides the migrated schema: the pinned requirements and every migration file."""
    digest = hashlib.sha256((BASE_DIR / "requirements.txt").read_bytes())
    for path in sorted(BASE_DIR.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(BASE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def migrated_template(url: str, migrate: Callable[[str], None]) -> str:
    """The name of a database on ``url``'s server migrated to this code's schema, made once.

    A fresh site's database is a copy of it (CREATE DATABASE ... TEMPLATE, a file copy)
    instead of running every migration again: each site of a test network saved the
    seconds of CPU that ``manage.py migrate`` costs. ``migrate(url)`` migrates the database
    ``url`` names. The template is named by ``schema_fingerprint()``, so a change of
    migrations or requirements makes a new one; it is made under a name of its own and
    renamed when complete, so a failed or concurrent making leaves no half-migrated template.
    """
    template = f"gtx_template_{schema_fingerprint()}"
    if database_exists(database_url(url, template)):
        return template
    making = database_url(url, f"{template}_{uuid.uuid4().hex[:8]}")
    database_create(making)
    try:
        migrate(making)
        with _admin_connect(url) as conn:
            conn.execute(f'ALTER DATABASE "{database_name(making)}" RENAME TO "{template}"')
    except psycopg.errors.DuplicateDatabase:
        pass  # another run made it meanwhile
    finally:
        database_drop(making)
    return template


def database_drop(url: str) -> None:
    """Drop the database ``url`` names, closing its sessions first."""
    with _admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
