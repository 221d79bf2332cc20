"""The OpenAPI document is built by one request at a time (drf-spectacular's lazy loading is not thread-safe)."""

import threading
import time

from django.test import RequestFactory
from drf_spectacular.views import SpectacularAPIView

from chain.api.views import SchemaView


def test_schema_requests_in_their_own_threads_build_it_one_at_a_time(monkeypatch):
    inside, most = 0, 0
    count = threading.Lock()

    def building(self, request):
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        with count:
            inside -= 1
        return None

    monkeypatch.setattr(SpectacularAPIView, "_get_schema_response", building)
    view = SchemaView()
    threads = [
        threading.Thread(target=view._get_schema_response, args=(RequestFactory().get("/api/v1/schema/"),))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 1
