"""One definition of "active validator" and "authority": a jailed authority is no authority anywhere.

The ledger's rules (chain.ledger.validators.is_active_validator, is_authority)
decide; the grid's report check, the meters' registration check, validator
administration and the consensus validator set all ask them, in the ledger and
in the site's reads (chain.selectors.active_validators, authority_get).
"""

from dataclasses import replace

import pytest

from chain import selectors
from chain.ledger.block import validators_hash
from chain.ledger.state import State
from chain.ledger.validators import is_active_validator, is_authority, voting_power
from chain.models import Account, Validator
from governance.services import validator_admin
from grid.services import node_is_authority
from meters.services import authority_for
from tests.governance.harness import make_chain
from tests.grid.harness import report
from tests.meters.harness import register_payload
from tests.trading.harness import T0, address

NEW_VALIDATOR = {
    "public_key": address("SOLARCO"),
    "name": "SOLARCO",
    "url": "https://solarco.example",
    "region": "north",
    "authority": False,
    "active": False,
}


def jail(chain, *names: str) -> None:
    state = State(chain.store, chain.store.accumulator)
    for name in names:
        state.put(replace(chain.validator(name), jailed=True))
    state.commit_tx()
    chain.store.write(state)


@pytest.mark.parametrize("jailed", [False, True])
def test_every_ledger_rule_treats_a_jailed_authority_alike(genesis, jailed):
    chain = make_chain(genesis)
    if jailed:
        jail(chain, "EGAT", "MEA")
    validators = list(chain.store.tables["validator"].values())
    accounts = {v.public_key: chain.account(v.public_key) for v in validators}

    grid = chain.block([chain.tx("MEA", "grid_report", report(T0, ["bangkok"]))])
    meter = chain.block([chain.tx("MEA", "meter_register", register_payload("solar_somchai"))])
    administration = chain.block([chain.tx("EGAT", "validator_register", NEW_VALIDATOR)])

    assert [grid.receipts[0].ok, meter.receipts[0].ok, administration.receipts[0].ok] == [not jailed] * 3
    assert (address("EGAT") in voting_power(validators, accounts)) is not jailed
    assert is_authority(chain.validator("MEA")) is not jailed


@pytest.fixture
def jailed_in_the_database(chain, request):
    """EGAT (this site's node key) and MEA jailed, or not, in the committed validator table."""
    Validator.objects.filter(public_key__in=[address("EGAT"), address("MEA")]).update(jailed=request.param)
    selectors.head_validators_cache.forget()  # the validators changed behind the ledger's back
    yield request.param
    selectors.head_validators_cache.forget()  # the validators changed behind the ledger's back


@pytest.mark.django_db
@pytest.mark.parametrize("jailed_in_the_database", [False, True], indirect=True)
def test_every_site_read_treats_a_jailed_authority_alike(jailed_in_the_database):
    jailed = jailed_in_the_database
    egat = address("EGAT")

    with pytest.raises(Exception) as refusal:  # noqa: PT011  (the refusal classes are being merged)
        validator_admin(kind="validator_unjail", payload={"public_key": address("PEA")})

    assert node_is_authority() is not jailed
    assert authority_for(signer=address("MEA"), region="bangkok") is not jailed
    assert refusal.value.code == ("not_permitted" if jailed else "not_jailed")
    assert (egat in selectors.validator_set(selectors.chain_head()).authorities) is not jailed
    assert (egat in {v.public_key for v in selectors.active_validators()}) is not jailed


@pytest.mark.django_db
@pytest.mark.parametrize("jailed_in_the_database", [True], indirect=True)
def test_the_site_reads_agree_with_the_ledger_rules_for_every_validator(jailed_in_the_database):
    stakes = dict(Account.objects.values_list("address", "staked"))
    active = {v.public_key for v in selectors.active_validators()}

    for v in Validator.objects.all():
        account = Account.objects.filter(address=v.public_key).first()
        assert (selectors.authority_get(public_key=v.public_key) is not None) is is_authority(v), v.name
        assert (v.public_key in active) is is_active_validator(v, account), (v.name, stakes.get(v.public_key))


@pytest.mark.django_db
@pytest.mark.parametrize("jailed_in_the_database", [False, True], indirect=True)
def test_the_heads_validator_set_and_hash_follow_active_validators(jailed_in_the_database):
    """One read of the validators and their accounts per head serves the voting power and the
    active set's hash: both as ``active_validators`` says (ERC, inactive, is in neither)."""
    head = selectors.chain_head()
    active = [v.public_key for v in selectors.active_validators()]

    assert selectors.validators_hash_at(head.block_hash, head.state_root) == validators_hash(active)
    assert set(selectors.validator_set(head).power) == set(active)
    assert (address("EGAT") in active) is not jailed_in_the_database
    assert address("ERC") not in active
