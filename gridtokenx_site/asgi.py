import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from chain.api.shed import IntakeDoor  # noqa: E402
from chain.routing import peer_http_urlpatterns  # noqa: E402
from gridtokenx_site.body_limit import BodySizeLimit  # noqa: E402
from gridtokenx_site.edge import RefuseNul  # noqa: E402
from gridtokenx_site.executor import ReleaseExecutorConnections  # noqa: E402
from gridtokenx_site.routing import websocket_urlpatterns  # noqa: E402

# Sync code that Django runs outside a request's thread gives its connections back
# (gridtokenx_site.executor).
application = ReleaseExecutorConnections(
    ProtocolTypeRouter(
        {
            # The peer protocol bypasses Django's request handling (chain.consumers.PeerEndpoint).
            # A request line that spells NUL is refused before any route (gridtokenx_site.edge);
            # bodies over GTX_MAX_BODY_BYTES before they are read, on every route; transaction
            # batches while the mempool is full or intake has its fill (chain.api.shed).
            "http": RefuseNul(
                IntakeDoor(
                    BodySizeLimit(
                        URLRouter([*peer_http_urlpatterns, re_path(r"", django_asgi_app)]),
                        max_bytes=settings.GTX_MAX_BODY_BYTES,
                    )
                )
            ),
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)

from gridtokenx_site.gc_tuning import tune_gc  # noqa: E402

tune_gc()
