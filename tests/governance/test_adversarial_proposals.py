"""Adversarial suite for this app's kinds (tests/chain/adversarial.py has the strategies).

A hostile a proposal, vote or validator change, correctly signed, is refused with a stable code, or it runs in a
block every table of the database takes, with every ledger invariant intact.
"""

from hypothesis import HealthCheck, given, settings

from tests.chain.adversarial import check_hostile_case, hostile_transactions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hostile_transactions(
        kinds=(
            "governance_propose",
            "governance_vote",
            "validator_register",
            "validator_set_active",
            "validator_unjail",
        )
    )
)
def test_a_hostile_transaction_is_refused_with_a_stable_code_or_its_block_writes(case):
    check_hostile_case(case)
