"""A site's fresh database is a copy of one migrated template (localnet.databases)."""

import os
import subprocess
import sys
import uuid

import pytest

from localnet import BASE_DIR, databases
from localnet.databases import database_drop, database_exists, database_url, migrated_template
from localnet.network import prepare_site


@pytest.fixture
def new_schema(monkeypatch):
    """A fingerprint no template has yet; whatever template it names is dropped afterwards."""
    fingerprint = uuid.uuid4().hex[:16]
    monkeypatch.setattr(databases, "schema_fingerprint", lambda: fingerprint)
    yield database_url(os.environ["DATABASE_URL"], f"gtx_template_{fingerprint}")
    database_drop(database_url(os.environ["DATABASE_URL"], f"gtx_template_{fingerprint}"))


def test_the_template_is_migrated_once_and_then_reused(new_schema):
    migrated = []

    def migrate(url: str) -> None:
        assert database_exists(url) and url != new_schema, "migrated under a name of its own"
        migrated.append(url)

    first = migrated_template(os.environ["DATABASE_URL"], migrate)
    again = migrated_template(os.environ["DATABASE_URL"], migrate)
    assert first == again == new_schema.rsplit("/", 1)[1]
    assert len(migrated) == 1 and database_exists(new_schema)
    assert not database_exists(migrated[0]), "renamed to the template's name"


def test_a_failed_migration_leaves_no_template_and_no_half_migrated_database(new_schema):
    made = []

    def migrate(url: str) -> None:
        made.append(url)
        raise subprocess.CalledProcessError(1, "migrate")

    with pytest.raises(subprocess.CalledProcessError):
        migrated_template(os.environ["DATABASE_URL"], migrate)
    assert not database_exists(new_schema) and not database_exists(made[0])


def test_a_prepared_sites_database_holds_every_migration(tmp_path):
    site = prepare_site(tmp_path)
    try:
        check = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--check", "-v0"],
            env=site.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        database_drop(site.database_url)
