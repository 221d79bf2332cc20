"""The schema clients code against is pinned: a change to it is a change to this file too.

After a deliberate change, write the new schema with
``GTX_WRITE_GRAPHQL_SCHEMA=1 .venv/bin/python -m pytest tests/graphql/test_schema.py``
and review the diff of tests/graphql/schema.graphql with the change.
"""

import os
from pathlib import Path

from gridtokenx_site.graphql_schema import schema

PINNED = Path(__file__).with_name("schema.graphql")


def test_the_printed_schema_is_the_pinned_one():
    printed = schema.as_str() + "\n"
    if os.environ.get("GTX_WRITE_GRAPHQL_SCHEMA") == "1":
        PINNED.write_text(printed)
    assert printed == PINNED.read_text(), (
        "The GraphQL schema changed: if that is meant, rewrite tests/graphql/schema.graphql "
        "(see this module's docstring) and say so in docs/API.md."
    )


def test_the_schema_has_queries_and_subscriptions_but_no_mutations():
    printed = schema.as_str()
    assert "type Query {" in printed and "type Subscription {" in printed
    assert "type Mutation" not in printed
