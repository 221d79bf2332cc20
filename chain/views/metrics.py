"""/metrics: the site's Prometheus figures, for the operator's scraper only.

The scraper sends ``Authorization: Bearer <GTX_METRICS_TOKEN>``. Without the
setting the route does not exist (404), so a site never serves its figures to
whoever asks. The token is compared in constant time before any figure is read.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from chain import metrics


def _scraper_authorised(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme == "Bearer" and hmac.compare_digest(token.encode(), settings.GTX_METRICS_TOKEN.encode())


@require_GET
def metrics_view(request):
    if not settings.GTX_METRICS_TOKEN:
        raise Http404
    if not _scraper_authorised(request):
        response = HttpResponse("Bearer token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # The process's HTTP figures (django-prometheus) and the chain's own.
    body = generate_latest(REGISTRY) + generate_latest(metrics.REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
