"""WebSocket routes of every app, and GraphQL's subscriptions at the HTTP endpoint's path."""

from django.urls import path, re_path

from chain.consumers import UnknownStreamConsumer
from chain.routing import websocket_urlpatterns as chain_ws
from grid.routing import websocket_urlpatterns as grid_ws
from gridtokenx_site.graphql_endpoints import GraphQLStreamConsumer
from trading.routing import websocket_urlpatterns as market_ws

# Last: any other path is accepted only to be closed with 4404 (no server error, 1011).
websocket_urlpatterns = [
    *chain_ws,
    *market_ws,
    *grid_ws,
    path("graphql/", GraphQLStreamConsumer.as_asgi()),
    re_path(r"", UnknownStreamConsumer.as_asgi()),
]
