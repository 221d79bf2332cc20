"""/api/v1/governance/: governance's REST reads."""

from django.urls import path

from governance import api

urlpatterns = [
    path("proposals/", api.ProposalListView.as_view(), name="api-governance-proposals"),
    path("proposals/<int:number>/", api.ProposalDetailView.as_view(), name="api-governance-proposal"),
    path("proposals/<int:number>/votes/", api.ProposalVotesView.as_view(), name="api-governance-votes"),
    path("votes/", api.VoteListView.as_view(), name="api-governance-vote-list"),
]
