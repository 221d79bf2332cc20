"""The create-proposal form: typed text to the exact payload, or the reason beside the field."""

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import ChainHead, Validator
from governance import forms as f
from governance.forms import ProposalForm

pytestmark = pytest.mark.django_db


def form(chain, **data):
    params = ChainHead.objects.get().params
    posted = {f"proposal-{k}": v for k, v in {"title": "A title", **data}.items()}
    return ProposalForm(posted, params=params, validators=list(Validator.objects.all()))


@pytest.mark.parametrize(
    ("data", "payload"),
    [
        (
            {"action": "param_change", "param": "gate_closure_minutes", "value": "10"},
            {"action": "param_change", "param": "gate_closure_minutes", "value": 10},
        ),
        (
            {"action": "param_change", "param": "reward_per_kwh", "value": "0.5"},
            {"action": "param_change", "param": "reward_per_kwh", "value": 500_000},
        ),
        (
            {"action": "wheeling_fee", "path": "east|bangkok", "fee": "0.08"},
            {"action": "wheeling_fee", "from": "east", "to": "bangkok", "value": 80_000},
        ),
        (
            {"action": "authority", "validator": address_of(demo_key("MEA")), "authority": ""},
            {"action": "authority", "public_key": address_of(demo_key("MEA")), "authority": False},
        ),
        ({"action": "text", "description": "  Why not?  "}, {"action": "text", "description": "Why not?"}),
    ],
)
def test_valid_forms_make_the_exact_payload(chain, data, payload):
    bound = form(chain, **data)
    assert bound.is_valid(), bound.errors
    assert bound.payload() == {"title": "A title", **payload}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"action": "param_change", "param": "gate_closure_minutes", "value": "5"}, "value", "already 5"),
        (
            {"action": "param_change", "param": "gate_closure_minutes", "value": "2.5"},
            "value",
            f.VALUE_NOT_WHOLE,
        ),
        (
            {"action": "param_change", "param": "quorum_ppm", "value": "2000000"},
            "value",
            "from 1 to 1,000,000",
        ),
        ({"action": "wheeling_fee", "path": "east|bangkok", "fee": "abc"}, "fee", f.FEE_NOT_A_NUMBER),
        ({"action": "wheeling_fee", "path": "mars|bangkok", "fee": "1"}, "path", "Select a valid choice"),
        (
            {
                "action": "validator_add",
                "public_key": "xyz",
                "name": "N",
                "url": "https://n",
                "region": "north",
            },
            "public_key",
            f.KEY_MALFORMED,
        ),
        (
            {
                "action": "validator_add",
                "public_key": address_of(demo_key("EGAT")),
                "name": "N",
                "url": "https://n",
                "region": "north",
            },
            "public_key",
            "already an active validator",
        ),
        (
            {
                "action": "validator_add",
                "public_key": "ab" * 32,
                "name": "N",
                "url": "ftp://n",
                "region": "north",
            },
            "url",
            "http",
        ),
        ({"action": "validator_remove", "validator": "nobody"}, "validator", "Select a valid choice"),
        ({"title": "", "action": "text"}, "title", "required"),
    ],
)
def test_bad_input_is_refused_beside_its_field(chain, data, field, message):
    bound = form(chain, **data)
    assert not bound.is_valid()
    assert message in " ".join(bound.errors.get(field, [])), bound.errors


@pytest.mark.parametrize(
    ("ppm", "text"),
    [
        (0, "0.0%"),
        (50, "<0.01%"),
        (166, "0.01%"),
        (9_999, "0.99%"),
        (334_000, "33.4%"),
        (1_000_000, "100.0%"),
    ],
)
def test_shares_read_as_percentages(ppm, text):
    from governance.templatetags.governance_tags import ppm_percent

    assert ppm_percent(ppm) == text
