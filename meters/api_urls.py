"""/api/v1/meters/: the meter-facing intake of signed readings, and registry reads."""

from django.urls import path

from meters import api

urlpatterns = [
    path("readings/", api.ReadingSubmitView.as_view(), name="api-meter-readings"),
    path("<str:meter_id>/", api.MeterDetailView.as_view(), name="api-meter"),
]
