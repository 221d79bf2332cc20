"""Settlement's pages, at the addresses they had inside the market and meters pages.

Included before ``market/`` and ``meters/`` (gridtokenx_site/urls.py): ``meters/carbon/``
would otherwise be taken for a meter's key.
"""

from django.urls import path

from settlement import views

urlpatterns = [
    path("market/trades/<str:trade_id>/", views.trade_detail, name="market-trade-detail"),
    path("meters/carbon/", views.carbon_report, name="meters-carbon"),
    path("certificates/", views.certificates, name="certificates"),
    path("certificates/transfer/", views.certificate_transfer, name="certificates-transfer"),
    path("certificates/claim/", views.certificate_claim, name="certificates-claim"),
    path("certificates/claimed.csv", views.certificates_claimed_csv, name="certificates-claimed-csv"),
    path("statement/", views.statement, name="statement"),
    path("statement/export.csv", views.statement_csv, name="statement-csv"),
]
