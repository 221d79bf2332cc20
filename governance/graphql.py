"""Governance's part of the GraphQL schema: proposals with their tally, and votes.

Same selectors and same values as the REST reads (governance.api); public like them.
A list of proposals reads every tally in three queries (selectors.proposal_tallies).
"""

from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from chain.graphql import BigInt, address_argument, batches_of, bounded_limit
from governance import selectors
from governance.api import MAX_LIMIT
from governance.models import ProposalStatus as ProposalStatusChoices

ProposalStatus = strawberry.enum(
    Enum("ProposalStatus", {value.upper(): value for value in ProposalStatusChoices.values}),
    description="A proposal's state.",
)


@strawberry.type(description="Stake in units; shares in parts per million.")
class Tally:
    yes_stake: BigInt
    no_stake: BigInt
    abstain_stake: BigInt
    yes_vote_ppm: int = strawberry.field(description="yes / voted_stake, ppm.")
    no_vote_ppm: int
    abstain_vote_ppm: int
    voted_stake: BigInt
    total_stake: BigInt = strawberry.field(description="All units staked on the chain: the quorum's base.")
    voters: int
    turnout_ppm: int
    yes_share_ppm: int = strawberry.field(description="yes / (yes + no), ppm.")
    quorum_ppm: int
    threshold_ppm: int
    quorum_reached: bool
    passing: bool = strawberry.field(
        description="Whether it passes if counted now (open) or passed (decided)."
    )


TALLY_FIELDS = tuple(Tally.__annotations__)


@strawberry.type(description="A proposal (GET /api/v1/governance/proposals/{number}/).")
class Proposal:
    proposal_id: str
    number: BigInt
    proposer: str
    title: str
    description: str
    action: str

    @strawberry.field(description="The action's own fields.")
    def action_args(self) -> JSON:
        return selectors.action_args(self)

    created_height: BigInt
    voting_end_height: BigInt
    execute_height: BigInt
    quorum_ppm: int
    threshold_ppm: int
    status: str
    yes_stake: BigInt
    no_stake: BigInt
    abstain_stake: BigInt
    total_stake: BigInt
    voters: int
    tallied_height: BigInt
    executed_height: BigInt
    effective_height: BigInt
    outcome: str

    @strawberry.field(description="Live while voting runs, the block's count once tallied.")
    def tally(self, info: Info) -> Tally:
        tally = batches_of(info).get(
            "proposal.tally",
            self,
            key=lambda p: p.number,
            load=lambda proposals: selectors.proposal_tallies(proposals=proposals),
        )
        return Tally(**{f: tally[f] for f in TALLY_FIELDS})


@strawberry.type(description="An account's current vote on a proposal.")
class Vote:
    proposal_id: str
    proposal_number: BigInt
    voter: str
    option: str
    height: BigInt
    changes: int


@strawberry.type
class GovernanceQuery:
    @strawberry.field(description="Proposals, newest first.")
    def proposals(self, info: Info, status: ProposalStatus | None = None, limit: int = 50) -> list[Proposal]:
        bounded_limit(limit, MAX_LIMIT)
        page = list(selectors.proposals_list(status=status.value if status else None)[:limit])
        return batches_of(info).note("proposal.tally", page)

    @strawberry.field(description="One proposal by number; null if none.")
    def proposal(self, number: BigInt) -> Proposal | None:
        return selectors.proposal_find(number=number)

    @strawberry.field(description="Votes newest first: of one proposal, of one voter, or all.")
    def votes(
        self, proposal_number: BigInt | None = None, voter: str | None = None, limit: int = 50
    ) -> list[Vote]:
        bounded_limit(limit, MAX_LIMIT)
        if voter is not None:
            address_argument(voter, "voter")
        return list(selectors.votes_list(proposal_number=proposal_number, voter=voter)[:limit])
