"""/market/: the market's browser pages (the REST reads are in trading/urls.py; a trade's
page, /market/trades/<id>/, is settlement's)."""

from django.urls import path

from trading import views

urlpatterns = [
    path("", views.market, name="market"),
    path("trade/", views.trade, name="market-trade"),
    path("trade/order/", views.order_submit, name="market-order"),
    path("trade/check/", views.order_check, name="market-check"),
    path("trade/preview/", views.order_preview, name="market-preview"),
    path("orders/<str:order_id>/cancel/", views.order_cancel_view, name="market-cancel"),
    path("agreements/", views.agreements, name="market-agreements"),
    path(
        "agreements/<str:agreement_id>/<str:action>/",
        views.agreement_answer_view,
        name="market-agreement-answer",
    ),
]
