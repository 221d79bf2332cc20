"""Mining on and off (the seed's ``start --mining``): a validator that does not mine checks and
votes on every block but is never drawn to propose, so it never misses a slot; the chain keeps
at least one active validator that mines, and falls back to all if none is left."""

from dataclasses import replace

import pytest

from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.keys import address_of
from chain.ledger.state import Mining, State
from chain.ledger.validators import (
    apply_round_penalties,
    not_mining,
    proposer_for,
    proposer_weights,
    validator_records,
)
from chain.models import Account, MempoolTx, Validator
from chain.models import Mining as MiningRow
from governance import selectors, services
from localnet.genesis_files import DEMO_GENESIS
from localnet.management.commands.start import Command as StartCommand
from tests.governance.harness import make_chain

HEIGHTS = 300


@pytest.fixture(scope="module")
def demo_genesis():
    """The demo genesis: EGAT, MEA and PEA active (the tests' own has EGAT alone)."""
    return load_genesis(DEMO_GENESIS)


def addr(name: str) -> str:
    return address_of(demo_key(name))


def drawn(chain, heights: int = HEIGHTS) -> set[str]:
    """Every proposer the draw picks for ``heights`` heights and their first three rounds."""
    state = State(chain.store, chain.store.accumulator)
    validators, accounts = validator_records(state)
    weights = proposer_weights(validators, accounts, chain.params, not_mining(state))
    return {proposer_for(weights, f"{h:064x}", r) for h in range(heights) for r in range(3)}


def active(chain) -> set[str]:
    state = State(chain.store, chain.store.accumulator)
    validators, accounts = validator_records(state)
    return set(proposer_weights(validators, accounts, chain.params))


def test_a_validator_that_stops_mining_is_never_drawn_and_one_that_starts_again_is(demo_genesis):
    chain = make_chain(demo_genesis)
    everyone = active(chain)
    assert addr("MEA") in everyone and drawn(chain) == everyone

    stop = chain.block([chain.tx("MEA", "validator_set_mining", {"mining": False})])
    assert stop.receipts[0].ok, stop.receipts[0].error
    assert chain.store.tables["validator_mining"][addr("MEA")] == Mining(addr("MEA"), False)
    assert drawn(chain) == everyone - {addr("MEA")}
    # It still votes: its voting power is unchanged.
    assert addr("MEA") in active(chain)

    start = chain.block([chain.tx("MEA", "validator_set_mining", {"mining": True})])
    assert start.receipts[0].ok, start.receipts[0].error
    assert drawn(chain) == everyone


def test_a_validator_that_does_not_mine_is_never_penalised_for_a_round(demo_genesis):
    """Rounds before the decided one charge a miss to each round's proposer: never to a non-miner."""
    chain = make_chain(demo_genesis)
    chain.block([chain.tx("MEA", "validator_set_mining", {"mining": False})])
    before = chain.validator("MEA")
    state = State(chain.store, chain.store.accumulator)
    for height in range(40):
        apply_round_penalties(
            state, proposer=addr("EGAT"), round=5, previous_hash=f"{height:064x}", params=chain.params
        )
    assert state.get("validator", addr("MEA")) == before
    assert state.get("validator", addr("PEA")).missed_total > 0


@pytest.mark.parametrize(
    ("sender", "payload", "code"),
    [
        ("solar_somchai", {"mining": False}, "not_permitted"),  # not a validator
        ("MEA", {"mining": True}, "bad_field"),  # already mines
    ],
)
def test_a_change_that_changes_nothing_or_comes_from_no_validator_fails(demo_genesis, sender, payload, code):
    chain = make_chain(demo_genesis)
    receipt = chain.block([chain.tx(sender, "validator_set_mining", payload)]).receipts[0]
    assert (receipt.ok, receipt.code) == (False, code)
    assert "validator_mining" not in chain.store.tables or not chain.store.tables["validator_mining"]


def test_the_last_active_validator_that_mines_cannot_stop(demo_genesis):
    chain = make_chain(demo_genesis)
    miners = sorted(active(chain))
    names = {addr(n): n for n in ("EGAT", "MEA", "PEA", "ERC")}
    *others, last = [names[k] for k in miners]
    for name in others:
        assert chain.block([chain.tx(name, "validator_set_mining", {"mining": False})]).receipts[0].ok
    receipt = chain.block([chain.tx(last, "validator_set_mining", {"mining": False})]).receipts[0]
    assert (receipt.ok, receipt.code) == (False, "last_miner")
    assert drawn(chain) == {addr(last)}


def test_with_every_miner_jailed_every_active_validator_is_drawn_again(demo_genesis):
    """A chain never stops for want of a proposer: MEA stopped mining, then the others were jailed."""
    chain = make_chain(demo_genesis)
    chain.block([chain.tx("MEA", "validator_set_mining", {"mining": False})])
    state = State(chain.store, chain.store.accumulator)
    for key in active(chain) - {addr("MEA")}:
        state.put(replace(chain.validator(key), jailed=True))
    state.commit_tx()
    chain.store.write(state)
    assert drawn(chain) == {addr("MEA")}


@pytest.mark.parametrize("payload", [{}, {"mining": 0}, {"mining": "false"}, {"mining": False, "x": 1}])
def test_a_malformed_payload_is_refused(demo_genesis, payload):
    chain = make_chain(demo_genesis)
    receipt = chain.block([chain.tx("MEA", "validator_set_mining", payload)]).receipts[0]
    assert not receipt.ok and receipt.code in ("bad_field", "malformed")


# --- on a site: the service, the page, manage.py start --no-mining ----------------------------
# The tests' genesis has one active validator (EGAT, this site); MEA is made active with a
# sliver of stake, so that EGAT is not the last miner and still holds the votes alone.


@pytest.fixture
def second_miner(chain):
    Validator.objects.filter(public_key=addr("MEA")).update(active=True)
    Account.objects.update_or_create(address=addr("MEA"), defaults={"staked": 1})


@pytest.mark.django_db
def test_staff_stop_this_sites_mining_from_the_validators_page(client_as, second_miner):
    staff = client_as("staff")
    page = staff.get("/validators/").content.decode()
    assert 'id="form-mining"' in page and "Stop mining" in page
    staff.post("/validators/mining/", {"mining": "false"})
    sent = MempoolTx.objects.get(kind="validator_set_mining")
    assert sent.sender == addr("EGAT") and sent.payload == {"mining": False}

    MiningRow.objects.create(public_key=addr("EGAT"), mining=False)  # as its block writes it
    MempoolTx.objects.all().delete()
    rows = {row["validator"].name: row["mining"] for row in selectors.validators_overview()}
    assert rows["EGAT"] is False and rows["MEA"] is True
    page = staff.get("/validators/").content.decode()
    assert "Start mining" in page and page.count('data-mining="false"') == 1
    # Asked again, nothing is signed: the page says why.
    refused = staff.post("/validators/mining/", {"mining": "false"}, follow=True).content.decode()
    assert "already stopped mining" in refused
    assert not MempoolTx.objects.exists()


@pytest.mark.django_db
def test_the_last_miner_is_refused_before_signing(client_as, chain):
    refused = client_as("staff").post("/validators/mining/", {"mining": "false"}, follow=True)
    assert "last active validator that mines" in refused.content.decode()
    with pytest.raises(Refused) as caught:
        services.node_mining_set(mining=False)
    assert caught.value.code == "last_miner"
    assert not MempoolTx.objects.exists()


@pytest.mark.django_db
def test_a_bad_mining_value_signs_nothing(client_as, second_miner):
    client_as("staff").post("/validators/mining/", {"mining": "maybe"})
    assert not MempoolTx.objects.exists()


@pytest.mark.django_db
def test_start_no_mining_signs_the_change_once(second_miner, capsys):
    command = StartCommand()
    command._set_mining(False)
    assert MempoolTx.objects.get(kind="validator_set_mining").payload == {"mining": False}
    assert "Mining off" in capsys.readouterr().out
    MiningRow.objects.create(public_key=addr("EGAT"), mining=False)
    MempoolTx.objects.all().delete()
    command._set_mining(False)  # the chain has it already: nothing signed, nothing said
    assert not MempoolTx.objects.exists()
    assert capsys.readouterr() == ("", "")
