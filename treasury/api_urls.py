"""/api/v1/treasury/: the treasury's REST reads."""

from django.urls import path

from treasury import api

urlpatterns = [
    path("topups/", api.MyTopUpsView.as_view(), name="api-treasury-topups"),
    path("cashouts/", api.MyCashOutsView.as_view(), name="api-treasury-cashouts"),
    path("queue/", api.QueueView.as_view(), name="api-treasury-queue"),
    path("totals/", api.TotalsView.as_view(), name="api-treasury-totals"),
]
