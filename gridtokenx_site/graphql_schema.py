"""The GraphQL schema: each app's part (chain, trading, grid, governance) joined, with its limits.

Reads only: there are no mutations. Writes stay signed transactions POSTed to
/api/v1/transactions/, which carry their own authority. docs/API.md ("GraphQL")
documents the endpoint; tests/graphql/schema.graphql pins the printed schema.
"""

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from chain.graphql import ChainQuery, ChainSubscription
from governance.graphql import GovernanceQuery
from grid.graphql import GridQuery
from trading.graphql import TradingQuery, TradingSubscription

#: Deepest nesting of fields a document may ask (introspection's own fields aside); the
#: deepest useful query, a proposal's tally or a block's transactions, is 2.
MAX_DEPTH = 4
#: Aliases repeat a field under other names: each alias of blocks(limit: 500) is another page.
MAX_ALIASES = 10
#: Lexical tokens in a document: GraphiQL's introspection query has about 250.
MAX_TOKENS = 2000


def _unexpected(error: GraphQLError) -> bool:
    """A resolver's crash is masked ("Unexpected error."); refusals and validation errors are not."""
    return error.path is not None and not isinstance(error.original_error, GraphQLError | None)


Query = merge_types("Query", (ChainQuery, TradingQuery, GridQuery, GovernanceQuery))
Subscription = merge_types("Subscription", (ChainSubscription, TradingSubscription))

schema = strawberry.Schema(
    query=Query,
    subscription=Subscription,
    extensions=[
        QueryDepthLimiter(max_depth=MAX_DEPTH),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaskErrors(should_mask_error=_unexpected),
    ],
)
