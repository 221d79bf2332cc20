"""The ledger's refusals and outcomes, and the genesis's region names, read in Thai
(chain.refusals, chain.selectors.region_name): the ledger keeps writing English."""

import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from chain.ledger import errors
from chain.ledger.errors import LedgerError, ledger_text
from chain.refusals import refusal_text
from grid.region_names import DEMO_REGION_NAMES

ROOT = Path(__file__).resolve().parents[2]


def test_a_refusal_without_values_is_translated_whole():
    message = LedgerError(errors.DUPLICATE, "An order with this id already exists.").message
    with translation.override("th"):
        thai = refusal_text(message)
    assert thai != message and any("\u0e00" <= c <= "\u0e7f" for c in thai)
    with translation.override("en"):
        assert refusal_text(message) == message


def test_a_refusal_with_values_keeps_them_in_its_thai_sentence():
    message = LedgerError(errors.BAD_FIELD, "The order is already %(status)s.", {"status": "filled"}).message
    assert message == "The order is already filled."
    with translation.override("th"):
        thai = refusal_text(message)
    assert "filled" in thai and "already" not in thai


def test_an_outcome_that_carries_a_refusal_translates_both():
    inner = LedgerError(errors.DUPLICATE, "An order with this id already exists.").message
    outcome = ledger_text("Not executed: %(reason)s", reason=inner)
    with translation.override("th"):
        thai = refusal_text(outcome)
        inner_thai = refusal_text(inner)
    assert inner_thai in thai and "Not executed" not in thai


def test_a_sentence_the_catalogue_does_not_know_is_shown_as_it_is():
    with translation.override("th"):
        assert refusal_text("Something no template says, 42.") == "Something no template says, 42."


def test_every_region_of_the_demo_genesis_has_a_name_in_the_catalogue():
    genesis = tomllib.loads((ROOT / "thai_market.toml").read_text())
    names = {r["name"] for r in genesis["regions"]}
    assert names <= set(DEMO_REGION_NAMES)
    with translation.override("th"):
        assert all(translation.gettext(name) != name for name in names)


@pytest.mark.django_db
def test_pages_show_the_genesis_region_names_in_thai(client_as, chain):
    client = client_as("staff")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "th"
    status = client.get("/status/").content.decode()
    assert "ภาคเหนือ" in status or "กรุงเทพมหานคร" in status
    grid = client.get("/grid/").content.decode()
    assert "กรุงเทพมหานครและปริมณฑล" in grid and "Bangkok Metropolitan" not in grid


def test_the_scaling_coordinators_reasons_read_in_thai():
    from chain.sharding import ShardLoad, scaling_decision

    reason = scaling_decision(1, [ShardLoad(0, 900, 1_800_000, 0, 1, 0)], window_us=2_000_000).reason
    assert reason == "shard 0 at 90% of its capacity, above 80%"
    with translation.override("th"):
        thai = refusal_text(reason)
    assert "90%" in thai and "80%" in thai and "capacity" not in thai


def test_spans_of_time_read_in_thai():
    """Django's own Thai catalogue lacks its timesince words; this project's has them."""
    from datetime import timedelta

    from django.utils import timezone
    from django.utils.timesince import timesince

    with translation.override("th"):
        assert timesince(timezone.now() - timedelta(minutes=3)) == "3\xa0นาที"
        assert timesince(timezone.now()) == "0\xa0นาที"
