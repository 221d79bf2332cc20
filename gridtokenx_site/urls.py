from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from chain.forms import ThrottledAdminLoginForm
from chain.views.metrics import metrics_view
from gridtokenx_site.graphql_endpoints import SiteGraphQLView

# The admin's login counts against the same limits as the site's (chain.services.accounts).
admin.site.login_form = ThrottledAdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/market/", include("trading.urls")),
    path("api/v1/meters/", include("meters.api_urls")),
    path("api/v1/grid/", include("grid.api_urls")),
    path("api/v1/governance/", include("governance.urls")),
    path("api/v1/treasury/", include("treasury.api_urls")),
    path("api/", include("chain.api.urls")),
    # The header's language switch: POST with CSRF, remembered in the django_language cookie.
    path("i18n/", include("django.conf.urls.i18n")),
    # The text static/js writes, in the person's language: gettext() and interpolate() for scripts.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("graphql/", SiteGraphQLView.as_view(), name="graphql"),
    # Before market/ and meters/: it holds market/trades/<id>/ and meters/carbon/.
    path("", include("settlement.urls")),
    path("market/", include("trading.web_urls")),
    path("meters/", include("meters.urls")),
    path("grid/", include("grid.urls")),
    path("audit/", include("audit.urls")),
    path("governance/", include("governance.web_urls")),
    path("validators/", include("governance.validator_urls")),
    path("treasury/", include("treasury.urls")),
    path("", include("chain.urls")),
]
