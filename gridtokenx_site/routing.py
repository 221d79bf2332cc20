"""WebSocket routes of every app."""

from chain.routing import websocket_urlpatterns as chain_ws
from grid.routing import websocket_urlpatterns as grid_ws
from trading.routing import websocket_urlpatterns as market_ws

websocket_urlpatterns = [*chain_ws, *market_ws, *grid_ws]
