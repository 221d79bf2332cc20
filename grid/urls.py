"""/grid/: the grid's browser pages (the REST reads are in grid/api_urls.py)."""

from django.urls import path

from grid import views

urlpatterns = [
    path("", views.dashboard, name="grid"),
    path("regions/<str:region_id>/", views.region, name="grid-region"),
    path("paths/limit/", views.path_limit, name="grid-path-limit"),
]
