"""The governance core in memory: the market's MemoryChain, params carried forward, short periods."""

from dataclasses import replace

from chain.ledger.block import BlockResult
from chain.ledger.state import State
from governance.ledger.records import Proposal, Vote
from tests.trading.harness import T0, TOKEN, MemoryChain, address

#: Short periods so a test runs a proposal's life in a few blocks.
FAST = {"voting_period_blocks": 3, "execution_delay_blocks": 2, "min_proposal_stake": 1000 * TOKEN}


class GovernanceChain(MemoryChain):
    """Each block one second after the last; Param records rule the next block, as on a site."""

    def block(self, txs, timestamp_ms: int | None = None) -> BlockResult:
        result = super().block(list(txs), T0 + self.height * 1000 if timestamp_ms is None else timestamp_ms)
        params = dict(self.params)
        params.update((p.name, p.value) for p in self.store.tables.get("param", {}).values())
        self.params = params
        return result

    def stake(self, who: str, tokens: int) -> None:
        """Add to ``who``'s stake directly in the store: a test's starting position."""
        self.set_stake(who, self.account(who).staked // TOKEN + tokens)

    def set_stake(self, who: str, tokens: int) -> None:
        state = State(self.store, self.store.accumulator)
        state.put(replace(self.account(who), staked=tokens * TOKEN))
        state.commit_tx()
        self.store.write(state)

    def proposals(self) -> list[Proposal]:
        return sorted(self.store.tables.get("gov_proposal", {}).values(), key=lambda p: p.number)

    def votes(self) -> list[Vote]:
        return list(self.store.tables.get("gov_vote", {}).values())

    def validator(self, who: str):
        return self.store.tables["validator"].get(address(who) if len(who) < 64 else who)


#: Validator stakes (tokens) the tests count on, whatever the genesis file holds: 12M in all.
STAKES = {"EGAT": 5_000_000, "MEA": 3_000_000, "PEA": 3_000_000, "ERC": 1_000_000}


def make_chain(genesis, **params) -> GovernanceChain:
    chain = GovernanceChain(genesis, {**genesis.params, **FAST, **params})
    state = State(chain.store, chain.store.accumulator)
    for account in list(chain.store.tables["account"].values()):
        if account.staked:
            state.put(replace(account, staked=0))
    state.commit_tx()
    chain.store.write(state)
    for name, tokens in STAKES.items():
        chain.stake(name, tokens)
    return chain
