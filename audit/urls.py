"""/audit/: the regulator's pages (regulators and staff only)."""

from django.urls import path

from audit import views

urlpatterns = [
    path("", views.audit_home, name="audit"),
    path("trades/", views.trades, name="audit-trades"),
    path("trades/export.csv", views.trades_csv, name="audit-trades-csv"),
    path("blocks/", views.blocks, name="audit-blocks"),
    path("accounts/", views.account_search, name="audit-account-search"),
    path("accounts/<str:address>/", views.account, name="audit-account"),
    path("verify/", views.verify, name="audit-verify"),
    path("verify/start/", views.verify_start, name="audit-verify-start"),
    path("verify/<int:pk>/", views.verification, name="audit-verification"),
    path("surveillance/", views.surveillance, name="audit-surveillance"),
    path("treasury/", views.treasury, name="audit-treasury"),
    path("treasury/export.csv", views.treasury_csv, name="audit-treasury-csv"),
    path("certificates/", views.certificates, name="audit-certificates"),
    path("reports/", views.reports, name="audit-reports"),
    path("reports/export.csv", views.reports_csv, name="audit-reports-csv"),
    path("reports/export.json", views.reports_json, name="audit-reports-json"),
]
