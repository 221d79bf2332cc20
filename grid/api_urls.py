"""/api/v1/grid/: the grid's REST reads."""

from django.urls import path

from grid import api

urlpatterns = [
    path("regions/", api.RegionListView.as_view(), name="api-grid-regions"),
    path("regions/<str:region_id>/history/", api.RegionHistoryView.as_view(), name="api-grid-region-history"),
    path("paths/", api.PathListView.as_view(), name="api-grid-paths"),
]
