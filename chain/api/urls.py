"""Everything under /api/: version 1 of the REST API, and JSON 404s for anything else."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView

from chain.api import views
from chain.api.errors import route_not_found

v1 = [
    path("status/", views.StatusView.as_view(), name="api-status"),
    path("transactions/", views.TransactionSubmitView.as_view(), name="api-tx-submit"),
    path("transactions/<str:tx_hash>/", views.TransactionDetailView.as_view(), name="api-tx-detail"),
    path("blocks/", views.BlockListView.as_view(), name="api-blocks"),
    path("blocks/<int:height>/", views.BlockByHeightView.as_view(), name="api-block"),
    path("blocks/by-hash/<str:block_hash>/", views.BlockByHashView.as_view(), name="api-block-by-hash"),
    path("accounts/<str:address>/", views.AccountDetailView.as_view(), name="api-account"),
    path(
        "accounts/<str:address>/transactions/",
        views.AccountTransactionsView.as_view(),
        name="api-account-transactions",
    ),
    path("validators/", views.ValidatorListView.as_view(), name="api-validators"),
    path("me/", views.MeView.as_view(), name="api-me"),
    path("schema/", views.SchemaView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("v1/", include(v1)),
    re_path(r"", route_not_found),
]
