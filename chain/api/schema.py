"""The exact shapes of the API's parameters, for the OpenAPI schema every app's views share.

Schemathesis (tests/site/test_schemathesis.py) holds the API to its schema: a
value the schema allows must not be refused as malformed, and one it forbids
must be. So parameters say what the views check: hex of its exact length,
integers with their bounds, the statuses the chain knows. The market's
``market_schema_values`` (a drf-spectacular postprocessing hook) adds what only
this chain knows when the schema is served: its zones and its slot length.
"""

from drf_spectacular.utils import OpenApiParameter

#: An address, a transaction or block hash, an order or trade id: 64 lowercase hex.
HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$", "minLength": 64, "maxLength": 64}
#: A delivery slot start, Unix ms: up to 16 digits (trading.api.market_schema_values adds multipleOf).
SLOT_MS = {"type": "integer", "minimum": 0, "maximum": 10**16 - 1}


def hex64_path(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, HEX64, OpenApiParameter.PATH, description=description)


def hex64_query(name: str, description: str, *, required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(name, HEX64, required=required, description=description)


def bounded_int(name: str, low: int, high: int, description: str, **kwargs) -> OpenApiParameter:
    """An integer query parameter from ``low`` to ``high``."""
    return OpenApiParameter(
        name, {"type": "integer", "minimum": low, "maximum": high}, description=description, **kwargs
    )


def bodies_required(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every documented request body is required (no endpoint takes an empty POST)."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result
