"""Validator administration in the core: only authorities, and the set stays able to make blocks."""

import pytest

from chain.ledger.genesis import load_genesis
from governance.ledger import rules as r
from governance.ledger import validators as v
from tests.conftest import GENESIS_PATH
from tests.trading.harness import address

from .harness import make_chain


@pytest.fixture(scope="module")
def genesis():
    return load_genesis(GENESIS_PATH)


def register_payload(name="SOLARCO", **extra):
    return {
        "public_key": address(name),
        "name": name,
        "url": "https://solarco.example",
        "region": "north",
        "authority": False,
        "active": False,
        **extra,
    }


def codes(result):
    return [x.code if not x.ok else "ok" for x in result.receipts]


@pytest.mark.parametrize("signer", ["home_malee", "solar_somchai", "erc_auditor", "MEA"])
def test_non_authorities_and_inactive_authorities_are_refused(genesis, signer):
    chain = make_chain(genesis)
    kinds = [
        ("validator_register", register_payload()),
        ("validator_set_active", {"public_key": address("PEA"), "active": True}),
        ("validator_unjail", {"public_key": address("EGAT")}),
    ]
    result = chain.block([chain.tx(signer, kind, payload) for kind, payload in kinds])
    # MEA is an authority but inactive in genesis: it cannot administer either.
    assert codes(result) == ["not_permitted"] * 3
    assert chain.validator("SOLARCO") is None and not chain.validator("PEA").active


def test_an_authority_registers_activates_and_deactivates(genesis):
    chain = make_chain(genesis)
    chain.stake("SOLARCO", 100_000)
    result = chain.block([chain.tx("EGAT", "validator_register", register_payload())])
    assert codes(result) == ["ok"]
    solarco = chain.validator("SOLARCO")
    assert (solarco.name, solarco.region, solarco.active, solarco.authority) == (
        "SOLARCO",
        "north",
        False,
        False,
    )
    chain.block(
        [chain.tx("EGAT", "validator_set_active", {"public_key": address("SOLARCO"), "active": True})]
    )
    assert chain.validator("SOLARCO").active
    chain.block(
        [chain.tx("EGAT", "validator_set_active", {"public_key": address("SOLARCO"), "active": False})]
    )
    assert not chain.validator("SOLARCO").active
    again = chain.block([chain.tx("EGAT", "validator_register", register_payload())])
    assert codes(again) == [r.VALIDATOR_EXISTS]


def test_activation_needs_the_minimum_stake(genesis):
    chain = make_chain(genesis)
    result = chain.block([chain.tx("EGAT", "validator_register", register_payload(active=True))])
    assert codes(result) == [v.STAKE_TOO_LOW]
    assert chain.validator("SOLARCO") is None


def test_the_last_active_authority_cannot_be_deactivated(genesis):
    chain = make_chain(genesis)
    result = chain.block(
        [chain.tx("EGAT", "validator_set_active", {"public_key": address("EGAT"), "active": False})]
    )
    assert codes(result) == [v.LAST_VALIDATOR]
    assert chain.validator("EGAT").active


def test_unjail_clears_the_jail_and_the_run_of_misses(genesis):
    from dataclasses import replace

    from chain.ledger.state import State

    chain = make_chain(genesis)
    state = State(chain.store, chain.store.accumulator)
    state.put(replace(chain.validator("PEA"), jailed=True, missed_in_row=3, missed_total=7))
    state.commit_tx()
    chain.store.write(state)
    first = chain.block([chain.tx("EGAT", "validator_unjail", {"public_key": address("PEA")})])
    pea = chain.validator("PEA")
    assert codes(first) == ["ok"] and not pea.jailed and pea.missed_in_row == 0 and pea.missed_total == 7
    second = chain.block([chain.tx("EGAT", "validator_unjail", {"public_key": address("PEA")})])
    assert codes(second) == [v.NOT_JAILED]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (register_payload(url="ftp://x"), "bad_field"),
        (register_payload(region="mars"), "bad_field"),
        (register_payload(public_key="XYZ"), "bad_address"),
        (register_payload(authority="yes"), "bad_field"),
        (register_payload(name="EGAT", public_key=address("SOLARCO")), r.VALIDATOR_EXISTS),
    ],
)
def test_bad_registrations_are_refused(genesis, payload, code):
    chain = make_chain(genesis)
    assert codes(chain.block([chain.tx("EGAT", "validator_register", payload)])) == [code]
    assert chain.validator("SOLARCO") is None
