"""The GraphQL schema: each app's part (chain, trading, grid, governance) joined, with its limits.

Reads only: there are no mutations. Writes stay signed transactions POSTed to
/api/v1/transactions/, which carry their own authority. docs/API.md ("GraphQL")
documents the endpoint; tests/graphql/schema.graphql pins the printed schema.
"""

import logging

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
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


#: Introspection's lists nested in one another, at most: GraphiQL's query nests three
#: (types, fields, args). Deeper (types { fields { type { fields ... } } }) multiplies the
#: answer by the schema's size at each level, a cheap document with an enormous answer.
MAX_INTROSPECTION_NESTING = 3
INTROSPECTION_LISTS = frozenset(
    {"types", "fields", "args", "inputFields", "interfaces", "possibleTypes", "enumValues", "directives"}
)

log = logging.getLogger(__name__)


class IntrospectionNesting(ValidationRule):
    """Refuses introspection whose lists nest deeper than MAX_INTROSPECTION_NESTING."""

    def enter_operation_definition(self, node, *_args) -> None:
        definitions = self.context.document.definitions
        fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
        known: dict[tuple[str, bool], int] = {}

        def nesting(selection_set: SelectionSetNode | None, inside: bool) -> int:
            most = 0
            for selection in selection_set.selections if selection_set else ():
                if isinstance(selection, FieldNode):
                    name = selection.name.value
                    within = inside or name in ("__schema", "__type")
                    counted = within and name in INTROSPECTION_LISTS
                    most = max(most, nesting(selection.selection_set, within) + counted)
                elif isinstance(selection, InlineFragmentNode):
                    most = max(most, nesting(selection.selection_set, inside))
                elif isinstance(selection, FragmentSpreadNode):
                    key = (selection.name.value, inside)
                    if key not in known and key[0] in fragments:
                        known[key] = 0  # a fragment cycle (refused by another rule) stops here
                        known[key] = nesting(fragments[key[0]].selection_set, inside)
                    most = max(most, known.get(key, 0))
            return most

        if nesting(node.selection_set, False) > MAX_INTROSPECTION_NESTING:
            self.report_error(
                GraphQLError(
                    f"Introspection nests at most {MAX_INTROSPECTION_NESTING} lists "
                    "(types, fields, args ...) in one another.",
                    extensions={"code": "too_complex"},
                )
            )


def _unexpected(error: GraphQLError) -> bool:
    """A resolver's crash is masked ("Unexpected error."); refusals and validation errors are not."""
    return error.path is not None and not isinstance(error.original_error, GraphQLError | None)


class SiteSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log a resolver's crash with its traceback; a refused query is the client's, not ours."""
        for error in errors:
            if _unexpected(error):
                log.error("GraphQL resolver failed", exc_info=error.original_error)


Query = merge_types("Query", (ChainQuery, TradingQuery, GridQuery, GovernanceQuery))
Subscription = merge_types("Subscription", (ChainSubscription, TradingSubscription))

schema = SiteSchema(
    query=Query,
    subscription=Subscription,
    extensions=[
        QueryDepthLimiter(max_depth=MAX_DEPTH),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
        AddValidationRules([IntrospectionNesting]),
        MaskErrors(should_mask_error=_unexpected),
    ],
)
