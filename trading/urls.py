"""/api/v1/market/: the market's REST reads."""

from django.urls import path

from trading import api

urlpatterns = [
    path("", api.MarketOverviewView.as_view(), name="api-market"),
    path("book/", api.OrderBookView.as_view(), name="api-market-book"),
    path("trades/", api.TradeListView.as_view(), name="api-market-trades"),
    path("orders/", api.OrderListView.as_view(), name="api-market-orders"),
    path("orders/<str:order_id>/", api.OrderDetailView.as_view(), name="api-market-order"),
    path("prices/", api.PriceSeriesView.as_view(), name="api-market-prices"),
    path("agreements/", api.AgreementListView.as_view(), name="api-market-agreements"),
]
