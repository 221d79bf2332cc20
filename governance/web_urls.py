"""/governance/: the governance pages (REST reads are in governance/urls.py)."""

from django.urls import path

from governance.views import proposals

urlpatterns = [
    path("", proposals.proposal_list, name="governance"),
    path("new/", proposals.proposal_new, name="governance-new"),
    path("new/check/", proposals.proposal_check, name="governance-check"),
    path("<int:number>/", proposals.proposal_detail, name="governance-detail"),
    path("<int:number>/vote/", proposals.vote, name="governance-vote"),
]
