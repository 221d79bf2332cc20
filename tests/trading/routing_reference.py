"""The routing rule written as plainly as possible: every simple path, brute force.

The protocol's ``routes_of`` walks the graph depth-first; this tries every
ordering of intermediate zones instead, so the two share no code.
"""

from itertools import permutations


def reference_routes(paths: dict, zones, seller: str, buyer: str, max_hops: int) -> list[tuple]:
    """(fee, hops, zones, path keys) of every route from ``seller`` to ``buyer``, cheapest first."""
    found = []
    others = [z for z in zones if z not in (seller, buyer)]
    for k in range(min(len(others), max_hops - 1) + 1):
        for middle in permutations(others, k):
            trail = (seller, *middle, buyer)
            keys = [tuple(sorted(pair)) for pair in zip(trail, trail[1:], strict=False)]
            if all(key in paths for key in keys):
                fee = sum(paths[key].wheeling_fee_per_kwh for key in keys)
                found.append((fee, len(keys), trail, tuple(keys)))
    return sorted(found)


def reference_open_route(rules, free_wh: dict, seller: str, buyer: str, max_hops: int):
    """The first route with free capacity on every path and that capacity, or (None, 0)."""
    for _fee, _hops, _trail, keys in reference_routes(
        rules.paths, rules.carbon_g_per_kwh, seller, buyer, max_hops
    ):
        free = min(free_wh[key] for key in keys)
        if free > 0:
            return keys, free
    return None, 0
