from django.urls import path

from grid.consumers import GridStreamConsumer

websocket_urlpatterns = [path("ws/grid/", GridStreamConsumer.as_asgi())]
