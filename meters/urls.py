"""/meters/: the meters' browser pages (the REST intake is in meters/api_urls.py)."""

from django.urls import path

from meters import views

urlpatterns = [
    path("", views.meters_page, name="meters"),
    path("register/", views.meter_register_view, name="meters-register"),
    path("<str:meter_id>/", views.meter_detail, name="meters-detail"),
]
