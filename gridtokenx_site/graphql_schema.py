"""The GraphQL schema: each app's part (chain, trading, grid, governance) joined, with its limits.

Reads only: there are no mutations. Writes stay signed transactions POSTed to
/api/v1/transactions/, which carry their own authority. docs/API.md ("GraphQL")
documents the endpoint; tests/graphql/schema.graphql pins the printed schema.
"""

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.graphql import OperationType

from chain.graphql import BIG_INT_SCALAR, BigInt, ChainQuery, ChainSubscription
from governance.graphql import GovernanceQuery
from grid.graphql import GridQuery
from trading.graphql import TradingQuery, TradingSubscription

#: Deepest nesting of fields below the root a document may ask: the schema's longest
#: path (me { account { owner } }) is 2. Introspection's own depth is graphql-core's rule
#: (MaxIntrospectionDepthRule): types { fields { type { fields ... } } } is refused.
MAX_DEPTH = 2
#: Aliases repeat a field under other names: each alias of blocks(limit: 500) is another page.
MAX_ALIASES = 10
#: Lexical tokens in a document: GraphiQL's introspection query has about 250.
MAX_TOKENS = 2000


log = logging.getLogger(__name__)


def _unexpected(error: GraphQLError) -> bool:
    """A resolver's crash is masked ("Unexpected error."); refusals and validation errors are not."""
    return error.path is not None and not isinstance(error.original_error, GraphQLError | None)


class SiteSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log a resolver's crash with its traceback; a refused query is the client's, not ours."""
        for error in errors:
            if _unexpected(error):
                log.error("GraphQL resolver failed", exc_info=error.original_error)

    async def stream(self, *args, allowed_operation_types=None, **kwargs):
        """The WebSocket runs subscriptions only: queries go to /graphql/ over HTTP, whose
        resolvers read the database in a thread of their own."""
        return await super().stream(*args, allowed_operation_types=(OperationType.SUBSCRIPTION,), **kwargs)


Query = merge_types("Query", (ChainQuery, TradingQuery, GridQuery, GovernanceQuery))
Subscription = merge_types("Subscription", (ChainSubscription, TradingSubscription))

schema = SiteSchema(
    query=Query,
    subscription=Subscription,
    extensions=[
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: MaskErrors(should_mask_error=_unexpected),
    ],
    config=StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR}),
)
