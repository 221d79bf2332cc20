"""What one query may ask: page sizes as REST's, bounded depth, aliases, tokens and introspection."""

import pytest
from graphql import GraphQLObjectType, get_introspection_query, get_named_type

from gridtokenx_site import graphql_schema as graphql_schema_module
from gridtokenx_site.graphql_schema import MAX_ALIASES, MAX_DEPTH
from tests.graphql.conftest import ask, data, error_codes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query, code",
    [
        ("{ blocks(limit: 501) { height } }", "bad_query"),
        ("{ blocks(limit: 0) { height } }", "bad_query"),
        ("{ blocks(limit: 21) { height transactions { hash } } }", "bad_query"),
        ("{ trades(limit: 501) { tradeId } }", "bad_query"),
        ("{ proposals(limit: 201) { number } }", "bad_query"),
        ('{ trades(zone: "atlantis") { tradeId } }', "bad_query"),
        ('{ trades(slotMs: "1") { tradeId } }', "bad_query"),
        ('{ orderBook(slotMs: "0", levels: 101) { slotMs } }', "bad_query"),
        ('{ account(address: "ABC") { balance } }', "bad_address"),
        ('{ block(hash: "xyz") { height } }', "bad_hash"),
        ('{ regionHistory(region: "atlantis") { bucketMs } }', "unknown_region"),
    ],
)
def test_bad_arguments_are_refused_with_the_rest_api_s_codes(anonymous, chain, query, code):
    answer = ask(anonymous, query)
    assert error_codes(answer) == [code]
    assert not any((answer["data"] or {}).values())  # nullable fields answer null beside the error


def test_a_page_of_blocks_takes_up_to_500_as_rest_does(anonymous, chain):
    assert data(anonymous, "{ blocks(limit: 500) { height } }") == {"blocks": []}
    assert data(anonymous, "{ blocks(limit: 20) { height transactions { hash } } }") == {"blocks": []}


def test_a_bigint_argument_is_a_whole_decimal_string(anonymous, chain):
    for bad in ('"1e3"', '"12 "', '"0x10"', '"99999999999999999999"', "1.5"):
        answer = ask(anonymous, f"{{ block(height: {bad}) {{ height }} }}")
        assert answer.get("data") is None and answer["errors"], bad
    assert data(anonymous, '{ block(height: "0") { height } }') == {"block": None}


def _deepest(graphql_type, seen=()) -> int:
    """Fields nested below ``graphql_type``; a cycle (a type inside itself) is an error."""
    named = get_named_type(graphql_type)
    if not isinstance(named, GraphQLObjectType):
        return -1
    assert named.name not in seen, f"{named.name} nests itself: queries could go arbitrarily deep"
    return 1 + max(_deepest(f.type, (*seen, named.name)) for f in named.fields.values())


def test_no_type_nests_itself_so_the_depth_limit_holds_every_query(chain):
    graphql_schema = graphql_schema_module.schema._schema
    assert _deepest(graphql_schema.query_type) == MAX_DEPTH
    assert _deepest(graphql_schema.subscription_type) <= MAX_DEPTH


def test_a_query_deeper_than_the_limit_is_refused(anonymous, chain, monkeypatch):
    monkeypatch.setattr(graphql_schema_module, "MAX_DEPTH", 1)
    answer = ask(anonymous, "{ me { account { address } } }")
    assert answer.get("data") is None
    assert "exceeds maximum operation depth of 1" in answer["errors"][0]["message"]


def test_aliases_beyond_the_limit_are_refused(anonymous, chain):
    aliases = " ".join(f"a{i}: blocks(limit: 500) {{ height }}" for i in range(MAX_ALIASES + 1))
    answer = ask(anonymous, f"{{ {aliases} }}")
    assert answer["errors"] and "aliases" in answer["errors"][0]["message"].lower()
    fewer = " ".join(f"a{i}: blocks(limit: 5) {{ height }}" for i in range(MAX_ALIASES))
    assert "errors" not in ask(anonymous, f"{{ {fewer} }}")


def test_a_huge_document_is_refused(anonymous, chain):
    fields = " ".join(["height"] * 2500)
    answer = ask(anonymous, f"{{ blocks {{ {fields} }} }}")
    assert answer["errors"] and "token" in answer["errors"][0]["message"].lower()


def test_the_standard_introspection_query_works(anonymous):
    schema = data(anonymous, get_introspection_query(descriptions=True))["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert schema["subscriptionType"]["name"] == "Subscription"


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "{ __schema { types { ...T } } } fragment T on __Type { fields { type { ...U } } } "
        "fragment U on __Type { fields { type { fields { name } } } }",
    ],
)
def test_introspection_that_multiplies_the_schema_is_refused(anonymous, query):
    answer = ask(anonymous, query)
    assert answer.get("data") is None
    assert [e["message"] for e in answer["errors"]] == ["Maximum introspection depth exceeded"]
