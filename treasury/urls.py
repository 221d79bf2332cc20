from django.urls import path

from treasury import views

urlpatterns = [
    path("", views.holder_page, name="treasury"),
    path("topup/", views.topup_request, name="treasury-topup"),
    path("cashout/", views.cashout_request, name="treasury-cashout"),
    path("issuer/", views.issuer_queue, name="treasury-queue"),
    path("issuer/topups/<int:pk>/confirm/", views.topup_confirm, name="treasury-topup-confirm"),
    path("issuer/topups/<int:pk>/refuse/", views.topup_refuse, name="treasury-topup-refuse"),
    path("issuer/asked/<str:reference>/confirm/", views.topup_asked_confirm, name="treasury-asked-confirm"),
    path("issuer/asked/<str:reference>/refuse/", views.topup_asked_refuse, name="treasury-asked-refuse"),
    path("issuer/cashouts/<str:cashout_id>/confirm/", views.cashout_confirm, name="treasury-cashout-confirm"),
    path("issuer/cashouts/<str:cashout_id>/refuse/", views.cashout_refuse, name="treasury-cashout-refuse"),
]
