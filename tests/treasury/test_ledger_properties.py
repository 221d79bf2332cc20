"""Hypothesis: random treasury flow (mints, cash-outs, burns, releases, transfers, forgeries).

After every block: the supply moved by exactly minted - burned units, and those are
exactly the block's new mint and burn payment records; no balance is negative; each
account's token escrow is exactly its open cash-outs.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.trading.harness import check_invariants
from tests.trading.test_ledger_properties import totals
from tests.treasury.harness import (
    ISSUER,
    LIMIT,
    NEWCOMERS,
    TOKEN,
    address,
    cashouts,
    new_chain,
    payments,
    supply,
)
from treasury.ledger.records import BURN, MINT

HOLDERS = (*NEWCOMERS, "home_malee")
SIGNERS = (ISSUER, ISSUER, ISSUER, "MEA", "home_malee")
#: A small pool, so references collide and duplicates are tried.
REFERENCES = tuple(f"REF{n:09d}" for n in range(6))
AMOUNTS = st.one_of(st.integers(1, 500 * TOKEN), st.sampled_from((0, -1, LIMIT, LIMIT + 1)))

actions = st.one_of(
    st.tuples(
        st.just("mint"),
        st.sampled_from(SIGNERS),
        st.sampled_from(HOLDERS),
        AMOUNTS,
        st.sampled_from(REFERENCES),
    ),
    st.tuples(st.just("cashout"), st.sampled_from(HOLDERS), AMOUNTS),
    st.tuples(
        st.just("burn"),
        st.sampled_from(SIGNERS),
        st.integers(0, 100),
        st.booleans(),
        st.sampled_from(REFERENCES),
    ),
    st.tuples(st.just("release"), st.sampled_from(SIGNERS), st.integers(0, 100)),
    st.tuples(
        st.just("transfer"), st.sampled_from(HOLDERS), st.sampled_from(HOLDERS), st.integers(1, 300 * TOKEN)
    ),
)


def build(chain, block_actions, requested: list) -> list:
    txs = []
    for action in block_actions:
        match action:
            case ("mint", signer, to, amount, reference):
                payload = {"to": address(to), "amount": amount, "reference": reference}
                txs.append(chain.tx(signer, "token_mint", payload))
            case ("cashout", who, amount):
                tx = chain.tx(who, "cashout_request", {"amount": amount})
                requested.append((tx.hash, who, amount))
                txs.append(tx)
            case ("burn", signer, pick, exact, reference) if requested:
                cashout_id, owner, amount = requested[pick % len(requested)]
                payload = {
                    "cashout_id": cashout_id,
                    "owner": address(owner),
                    "amount": amount if exact else amount + 1,
                    "reference": reference,
                }
                txs.append(chain.tx(signer, "token_burn", payload))
            case ("release", signer, pick) if requested:
                cashout_id, owner, _ = requested[pick % len(requested)]
                payload = {"cashout_id": cashout_id, "owner": address(owner), "reason": "Refused in a test"}
                txs.append(chain.tx(signer, "cashout_release", payload))
            case ("transfer", sender, to, amount) if sender != to:
                txs.append(chain.tx(sender, "transfer", {"to": address(to), "amount": amount}))
    return txs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(actions, min_size=1, max_size=10), min_size=1, max_size=6))
def test_supply_moves_only_by_mints_and_burns_and_escrow_is_open_cashouts(flow):
    chain = new_chain()
    _, energy_wh = totals(chain)
    requested: list = []
    for block_actions in flow:
        total, known = supply(chain), set(payments(chain))
        result = chain.block(build(chain, block_actions, requested))
        minted = result.energy.get("minted_units", 0)
        burned = result.energy.get("burned_units", 0)
        assert supply(chain) == total + minted - burned
        new = [p for ref, p in payments(chain).items() if ref not in known]
        assert minted == sum(p.amount for p in new if p.direction == MINT)
        assert burned == sum(p.amount for p in new if p.direction == BURN)
        assert all(p.issuer == address(ISSUER) and 0 < p.amount <= LIMIT for p in new)
        check_invariants(chain, total + minted - burned, energy_wh)
    # Every cash-out the chain holds is one somebody asked for, for what they asked.
    asked = {cashout_id: amount for cashout_id, _, amount in requested}
    assert all(asked[c.cashout_id] == c.amount for c in cashouts(chain).values())
