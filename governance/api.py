"""REST reads of governance (proposing and voting are signed transactions, POSTed to
/api/v1/transactions/ with kinds governance_propose and governance_vote; see docs/GOVERNANCE.md).

Public like every ledger read. Thin: parse the query, call a selector, render.
Bad queries answer {"error": {"code": "bad_query", ...}}.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chain.api import errors
from chain.api.errors import error_response
from chain.api.schema import bounded_int, hex64_query
from chain.api.serializers import ErrorSerializer
from chain.ledger.fields import whole_number
from chain.ledger.keys import is_address
from governance import selectors
from governance.models import Proposal, ProposalStatus, Vote

MAX_LIMIT = 200


class TallySerializer(serializers.Serializer):
    yes_stake = serializers.IntegerField(help_text="Units staked by yes voters.")
    no_stake = serializers.IntegerField()
    abstain_stake = serializers.IntegerField()
    yes_vote_ppm = serializers.IntegerField(help_text="yes / voted_stake in parts per million.")
    no_vote_ppm = serializers.IntegerField()
    abstain_vote_ppm = serializers.IntegerField()
    voted_stake = serializers.IntegerField()
    total_stake = serializers.IntegerField(help_text="All units staked on the chain: the quorum's base.")
    voters = serializers.IntegerField()
    turnout_ppm = serializers.IntegerField(help_text="voted_stake / total_stake in parts per million.")
    yes_share_ppm = serializers.IntegerField(help_text="yes / (yes + no) in parts per million.")
    quorum_ppm = serializers.IntegerField()
    threshold_ppm = serializers.IntegerField()
    quorum_reached = serializers.BooleanField()
    passing = serializers.BooleanField(
        help_text="Whether it passes if counted now (open) or passed (decided)."
    )


class ProposalSerializer(serializers.ModelSerializer):
    action_args = serializers.JSONField(source="action_args_dict", help_text="The action's own fields.")
    tally = serializers.SerializerMethodField()

    class Meta:
        model = Proposal
        fields = [
            f.name for f in Proposal._meta.fields if f.name not in ("open_end_height", "due_execute_height")
        ]
        fields += ["tally"]

    @extend_schema_field(TallySerializer)
    def get_tally(self, proposal) -> dict:
        return TallySerializer(selectors.proposal_tally(proposal=proposal)).data


class VoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vote
        fields = ["proposal_id", "proposal_number", "voter", "option", "height", "changes"]


STATUS = OpenApiParameter(
    "status", str, enum=ProposalStatus.values, description="Only proposals in this state."
)
LIMIT = bounded_int("limit", 1, MAX_LIMIT, f"At most {MAX_LIMIT}; default 50.")
BAD_QUERY = OpenApiResponse(ErrorSerializer, description="A query parameter is wrong.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No proposal has that number.")


class GovernanceRead(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def limit_param(self) -> int:
        limit = whole_number(self.request.query_params.get("limit", "50"))
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            raise errors.BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
        return limit

    def proposal_or_404(self, number: int):
        proposal = selectors.proposal_find(number=number)
        if proposal is None:
            return None, error_response(
                errors.NOT_FOUND, "No proposal has that number.", status.HTTP_404_NOT_FOUND
            )
        proposal.action_args_dict = selectors.action_args(proposal)
        return proposal, None


def _with_args(proposals):
    for proposal in proposals:
        proposal.action_args_dict = selectors.action_args(proposal)
    return proposals


class ProposalListView(GovernanceRead):
    @extend_schema(
        operation_id="governance_proposals",
        summary="Proposals, newest first",
        description="Each with its action, status, heights (voting end, execution, effect) and tally.",
        parameters=[STATUS, LIMIT],
        responses={200: ProposalSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in ProposalStatus.values:
            raise errors.BadQuery(f"status must be one of: {', '.join(ProposalStatus.values)}.")
        proposals = _with_args(list(selectors.proposals_list(status=wanted)[: self.limit_param()]))
        return Response(ProposalSerializer(proposals, many=True).data)


class ProposalDetailView(GovernanceRead):
    @extend_schema(
        operation_id="governance_proposal",
        summary="One proposal by number",
        responses={200: ProposalSerializer, 404: NOT_FOUND},
    )
    def get(self, request, number: int):
        proposal, missing = self.proposal_or_404(number)
        return missing or Response(ProposalSerializer(proposal).data)


class ProposalVotesView(GovernanceRead):
    @extend_schema(
        operation_id="governance_proposal_votes",
        summary="The votes on one proposal, newest first",
        description="Each account's current vote; a changed vote shows its latest option and height.",
        parameters=[LIMIT],
        responses={200: VoteSerializer(many=True), 400: BAD_QUERY, 404: NOT_FOUND},
    )
    def get(self, request, number: int):
        proposal, missing = self.proposal_or_404(number)
        if missing:
            return missing
        votes = selectors.votes_list(proposal_number=proposal.number)[: self.limit_param()]
        return Response(VoteSerializer(votes, many=True).data)


class VoteListView(GovernanceRead):
    @extend_schema(
        operation_id="governance_votes",
        summary="Votes, newest first",
        description="Optionally one voter's votes on every proposal.",
        parameters=[hex64_query("voter", "An address: 64 lowercase hex."), LIMIT],
        responses={200: VoteSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        voter = request.query_params.get("voter")
        if voter is not None and not is_address(voter):
            raise errors.BadQuery("voter must be an address: 64 lowercase hex characters.")
        votes = selectors.votes_list(voter=voter)[: self.limit_param()]
        return Response(VoteSerializer(votes, many=True).data)
