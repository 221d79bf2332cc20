"""Settlement's pages, at the addresses they had inside the market and meters pages.

Included before ``market/`` and ``meters/`` (gridtokenx_site/urls.py): ``meters/carbon/``
would otherwise be taken for a meter's key.
"""

from django.urls import path

from settlement import views

urlpatterns = [
    path("market/trades/<str:trade_id>/", views.trade_detail, name="market-trade-detail"),
    path("meters/carbon/", views.carbon_report, name="meters-carbon"),
]
