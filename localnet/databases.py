"""Sibling PostgreSQL databases on the server DATABASE_URL names: one per site.

A local network of sites (localnet.network: ``manage.py network`` and the tests) puts
each site's database next to the configured one, on the same server, so the
embedded PostgreSQL of ``make run`` serves them all. URLs keep their query
(the embedded server is reached through ``?host=<socket dir>``).
"""

from urllib.parse import urlsplit, urlunsplit

import psycopg

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


def database_create(url: str) -> None:
    """Create the database ``url`` names, unless it exists."""
    name = database_name(url)
    with _admin_connect(url) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    """Drop the database ``url`` names, closing its sessions first."""
    with _admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
