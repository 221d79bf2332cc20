"""Governance core benchmark: the cost of votes in a block and of the tally at the end of a vote.

In memory (the deterministic core alone, as every site runs it): BENCH_VOTERS
staked accounts each vote on one proposal in one block, then the block after
the voting period tallies them (a scan of the votes, every voter's stake, all
stake on the chain). Also the hook's cost in a block when no proposal is open.

Prints one JSON object on its last line: voters, vote block seconds and votes/s,
tally seconds and votes counted/s, idle hook microseconds per block.

Environment: BENCH_VOTERS (5000).
"""

import json
import os
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
    os.environ.setdefault("GTX_DEV", "1")
    import django

    django.setup()
    from chain.ledger.block import execute_block
    from chain.ledger.genesis import demo_key
    from chain.ledger.keys import address_of
    from chain.ledger.state import Account, MemoryStore, State
    from chain.ledger.tx import sign_transaction
    from governance.ledger.proposals import governance_block_start
    from governance.ledger.records import Proposal

    voters = int(os.environ.get("BENCH_VOTERS", 5000))
    keys = [demo_key(f"bench-voter-{i}") for i in range(voters)]
    proposer = demo_key("bench-proposer")
    from chain.ledger.genesis import load_genesis
    from localnet import BASE_DIR

    params = {
        **load_genesis(BASE_DIR / "thai_market.toml").params,
        "voting_period_blocks": 1,
        "execution_delay_blocks": 1,
        "quorum_ppm": 334_000,
        "threshold_ppm": 500_000,
        "min_proposal_stake": 1,
        "block_interval_ms": 250,
    }
    accounts = [Account(address_of(k), staked=1_000_000 + i) for i, k in enumerate(keys)]
    store = MemoryStore.holding([*accounts, Account(address_of(proposer), staked=10**12)])
    chain_id, height = "bench", 0

    def block(txs):
        nonlocal height
        height += 1
        state = State(store, store.accumulator)
        started = time.perf_counter()
        result = execute_block(
            state,
            txs,
            chain_id=chain_id,
            height=height,
            timestamp_ms=height * 1000,
            params=params,
            strict=True,
            verify_signatures=False,
        )
        _ = state.root
        seconds = time.perf_counter() - started
        store.write(state)
        assert all(r.ok for r in result.receipts), result.receipts[:1]
        return seconds

    propose = {"title": "bench", "action": "text"}
    block(
        [sign_transaction(proposer, chain_id=chain_id, nonce=0, kind="governance_propose", payload=propose)]
    )
    (proposal,) = store.tables[Proposal.table].values()
    votes = [
        sign_transaction(
            k,
            chain_id=chain_id,
            nonce=0,
            kind="governance_vote",
            payload={"proposal_id": proposal.proposal_id, "option": ("yes", "no", "abstain")[i % 3]},
        )
        for i, k in enumerate(keys)
    ]
    vote_seconds = block(votes)
    tally_seconds = block([])
    tallied = store.tables[Proposal.table][proposal.proposal_id]
    assert tallied.voters == voters and tallied.status in ("passed", "rejected")

    # No proposal open: what the hook costs every block.
    idle = 2000
    state = State(store, store.accumulator)
    from chain.ledger.kinds import BlockContext

    ctx = BlockContext(chain_id, height + 1, (height + 1) * 1000, params, [], {})
    started = time.perf_counter()
    for _ in range(idle):
        governance_block_start(state, ctx)
    idle_us = (time.perf_counter() - started) / idle * 1e6

    print(
        json.dumps(
            {
                "bench": "governance",
                "voters": voters,
                "vote_block_s": round(vote_seconds, 4),
                "votes_per_s": round(voters / vote_seconds),
                "tally_block_s": round(tally_seconds, 4),
                "tallied_votes_per_s": round(voters / tally_seconds),
                "idle_hook_us_per_block": round(idle_us, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
