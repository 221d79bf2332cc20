"""/meters/: the meters' browser pages (the REST intake is in meters/api_urls.py)."""

from django.urls import path

from meters import views

urlpatterns = [
    path("", views.meters_page, name="meters"),
    path("register/", views.meter_register_view, name="meters-register"),
    path("requests/", views.meter_requests_page, name="meters-requests"),
    path("requests/queue/", views.meter_request_queue, name="meters-request-queue"),
    path("requests/<int:pk>/approve/", views.meter_request_approve, name="meters-request-approve"),
    path("requests/<int:pk>/refuse/", views.meter_request_refuse, name="meters-request-refuse"),
    path("<str:meter_id>/", views.meter_detail, name="meters-detail"),
]
