"""/graphql/ over HTTP (GET and POST, a Django view) and over WebSocket (subscriptions, Channels).

There are no mutations, so a query changes nothing. Still, a POST that carries a
logged-in session must pass Django's CSRF check, as DRF's SessionAuthentication
asks: a request without a session needs no token (programs), a browser's does.
GraphiQL is served only with GTX_DEV. A subscription stream counts against
GTX_STREAMS_PER_CLIENT like ws/chain/, ws/market/ and ws/grid/.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import CSRFCheck
from strawberry.channels import GraphQLWSConsumer
from strawberry.django.views import GraphQLView

from chain.consumers import CLOSE_TOO_BIG, CLOSE_TOO_MANY, STREAM_SLOTS, TOO_MANY_STREAMS, stream_client
from chain.graphql import GraphQLContext
from gridtokenx_site.graphql_schema import schema

log = logging.getLogger(__name__)

CSRF_FAILED = "csrf_failed"
#: Operations one WebSocket may run at once; the stream itself holds one of the client's streams.
MAX_SUBSCRIPTIONS_PER_STREAM = 8
#: A subscribe frame carries a document of at most MAX_TOKENS tokens: a longer frame closes
#: the stream with CLOSE_TOO_BIG (4413), as the other streams close on theirs.
MAX_STREAM_FRAME = 65_536
#: GraphiQL (GTX_DEV only) loads its scripts and styles from unpkg and starts with an inline script.
GRAPHIQL_CSP = {
    "script-src": ["https://unpkg.com", "'unsafe-inline'"],
    "style-src": ["https://unpkg.com", "'unsafe-inline'"],
    "connect-src": ["ws:", "wss:"],
}


def _csrf_refusal(request: HttpRequest) -> str | None:
    """Why Django's CSRF check refuses ``request``, or None (DRF's SessionAuthentication.enforce_csrf)."""
    check = CSRFCheck(lambda _request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


@method_decorator(csrf_exempt, name="dispatch")
class SiteGraphQLView(GraphQLView):
    def __init__(self, **kwargs):
        super().__init__(schema=schema, allow_queries_via_get=True, **kwargs)

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if request.method == "POST" and request.user.is_authenticated:
            reason = _csrf_refusal(request)
            if reason:
                body = {
                    "errors": [{"message": f"CSRF failed: {reason}", "extensions": {"code": CSRF_FAILED}}]
                }
                return JsonResponse(body, status=403)
        self.graphql_ide = "graphiql" if settings.DEV else None
        return super().dispatch(request, *args, **kwargs)

    def get_context(self, request: HttpRequest, response: HttpResponse) -> GraphQLContext:
        return GraphQLContext(request=request, response=response)

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        response = super().render_graphql_ide(request)
        response._csp_update = GRAPHIQL_CSP
        return response


class GraphQLStreamConsumer(GraphQLWSConsumer):
    """Subscriptions (graphql-transport-ws or graphql-ws) on ws(s)://<host>/graphql/.

    A client address with GTX_STREAMS_PER_CLIENT streams open already is refused
    as the other streams refuse it: accepted, told ``too_many_streams``, closed 4429.
    """

    slot: str | None = None

    def __init__(self, **kwargs):
        super().__init__(
            schema=schema, max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_STREAM, **kwargs
        )

    async def websocket_connect(self, message):
        client = stream_client(self.scope)
        if not STREAM_SLOTS.take(client, settings.GTX_STREAMS_PER_CLIENT):
            log.info("GraphQL stream: %s has too many streams open", client)
            await self.accept(self._subprotocol())
            limit = settings.GTX_STREAMS_PER_CLIENT
            await self.close(
                code=CLOSE_TOO_MANY, reason=f"{TOO_MANY_STREAMS}: at most {limit} streams per address"
            )
            return
        self.slot = client
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message):
        if self.slot is not None:
            STREAM_SLOTS.give_back(self.slot)
            self.slot = None
        await super().websocket_disconnect(message)

    async def receive(self, text_data=None, bytes_data=None):
        frame = text_data if text_data is not None else bytes_data or b""
        if len(frame) > MAX_STREAM_FRAME:
            log.info("GraphQL stream: closed on a %d-long frame", len(frame))
            await self.close(code=CLOSE_TOO_BIG)
            return
        await super().receive(text_data, bytes_data)

    async def disconnect(self, code):
        if self.run_task is not None:  # None when refused before the protocol started
            await super().disconnect(code)

    def _subprotocol(self) -> str | None:
        offered = self.scope.get("subprotocols") or []
        return next((p for p in offered if p in self.protocols), None)
