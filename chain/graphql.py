"""The chain's part of the GraphQL schema: blocks, transactions, accounts, /me, new blocks.

Resolvers call the same selectors as the REST views (chain.api.views) and give
the same values. Also the pieces every app's part shares: the ``BigInt``
scalar, refusals with the REST API's error codes, and ``Batches`` (one query
for a nested field of a whole list, never one per row).
"""

import re
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType

import strawberry
from django.http import HttpRequest, HttpResponse
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from chain import selectors
from chain.api import errors
from chain.api.serializers import account_data, transaction_status_data
from chain.api.views import NewestFirst
from chain.events import CHAIN_GROUP
from chain.ledger import errors as ledger_errors
from chain.ledger.fields import is_hex64
from chain.ledger.keys import is_address
from chain.models import Account as AccountRow
from chain.models import Block as BlockRow
from chain.views.access import account_owners

# --- shared by every app's part of the schema -----------------------------------

#: Signed 64-bit, what the ledger's integer columns hold.
BIG_INT_MAX = 2**63 - 1
_DECIMAL = re.compile(r"-?[0-9]{1,19}")


def _big_int_parse(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise ValueError('A BigInt is a whole number in decimal digits, e.g. "5000000000".')
    if not -BIG_INT_MAX - 1 <= number <= BIG_INT_MAX:
        raise ValueError("A BigInt is at most 2^63 - 1 in size.")
    return number


BigInt = NewType("BigInt", int)
#: BigInt's definition; the schema maps the type to it (StrawberryConfig.scalar_map).
BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt",
    description=(
        'A whole number sent as a decimal string, e.g. "5000000000": token amounts in units '
        "(10^-6 token), energy in Wh, heights, nonces and Unix ms. GraphQL's Int has 32 bits and a "
        "JavaScript number loses digits above 2^53. Arguments take the string or an integer literal."
    ),
    serialize=str,
    parse_value=_big_int_parse,
)


def refused(code: str, message: str) -> GraphQLError:
    """A refusal a client can match on: ``extensions.code`` is the REST API's error code."""
    return GraphQLError(message, extensions={"code": code})


def bounded_limit(limit: int, most: int, name: str = "limit") -> int:
    """The page sizes of the REST API: 1 to ``most``, refused with the same words."""
    if not 1 <= limit <= most:
        raise refused(errors.BAD_QUERY, f"{name} must be a whole number from 1 to {most}.")
    return limit


def address_argument(value: str, name: str = "address") -> str:
    if not is_address(value):
        raise refused(ledger_errors.BAD_ADDRESS, f"{name} must be an address: 64 lowercase hex characters.")
    return value


class Batches:
    """One request's batched loads: a list resolver notes its rows, and the first row whose
    nested field is asked loads that field for every noted row at once.

    GraphQL resolves a list's rows one after the other, so without this a nested
    field costs one query per row (N+1).
    """

    def __init__(self) -> None:
        self.rows: dict[str, list] = defaultdict(list)
        self.loaded: dict[str, dict] = defaultdict(dict)

    def note(self, kind: str, rows: list) -> list:
        self.rows[kind].extend(rows)
        return rows

    def get(self, kind: str, row, key: Callable[[object], Hashable], load: Callable[[list], dict]):
        """``load(rows)`` answers {key(row): value} for every row it is given."""
        cache = self.loaded[kind]
        if key(row) not in cache:
            pending = {key(r): r for r in self.rows[kind] if key(r) not in cache}
            pending.setdefault(key(row), row)
            cache.update(load(list(pending.values())))
        return cache[key(row)]


@dataclass
class GraphQLContext:
    """What resolvers get as ``info.context`` over HTTP (the stream's context is Strawberry's dict)."""

    request: HttpRequest
    response: HttpResponse
    batches: Batches = field(default_factory=Batches)


def batches_of(info: Info) -> Batches:
    return info.context.batches


# --- blocks and transactions ---------------------------------------------------

#: A page of blocks, as GET /api/v1/blocks/ takes (500).
MAX_BLOCKS = NewestFirst.max_page_size
#: A page of blocks that also asks each block's transactions (up to a block's worth each).
MAX_BLOCKS_WITH_TRANSACTIONS = 20


def _block_transactions(info: Info, block: BlockRow) -> list:
    return batches_of(info).get(
        "block.transactions",
        block,
        key=lambda b: b.height,
        load=lambda blocks: selectors.blocks_transactions(heights=[b.height for b in blocks]),
    )


@strawberry.type(
    description="A committed transaction with its receipt (GET /api/v1/blocks/{h}/?include=transactions)."
)
class ChainTransaction:
    hash: str
    position: int
    sender: str
    nonce: BigInt
    kind: str
    payload: JSON
    signature: str
    ok: bool = strawberry.field(description="Whether it took effect.")
    error_code: str
    error_message: str
    received_at: datetime

    @strawberry.field
    def block_height(self) -> BigInt:
        return self.block_id


@strawberry.type(description="A block (GET /api/v1/blocks/{height}/).")
class Block:
    height: BigInt
    hash: str
    previous_hash: str
    timestamp_ms: BigInt
    timestamp: datetime
    merkle_root: str
    state_root: str
    result_state_root: str
    proposer: str
    round: int
    difficulty: int
    nonce: BigInt
    tx_count: int
    energy: JSON = strawberry.field(description="traded_wh, renewable_wh, carbon_credits_g: integers.")
    validators_hash: str
    commit_certificate: JSON

    @strawberry.field(description="The block's transaction hashes, in block order.")
    def tx_hashes(self, info: Info) -> list[str]:
        return [tx.hash for tx in _block_transactions(info, self)]

    @strawberry.field(
        description=f"Every transaction of the block, in order; at most {MAX_BLOCKS_WITH_TRANSACTIONS} "
        "blocks per page when asked."
    )
    def transactions(self, info: Info) -> list[ChainTransaction]:
        return _block_transactions(info, self)


@strawberry.type
class BlockRef:
    height: BigInt
    hash: str


@strawberry.type
class TransactionError:
    code: str
    message: str


@strawberry.type(
    description="Where a transaction stands (GET /api/v1/transactions/{hash}/); fields its status "
    "does not have are null."
)
class TransactionStatus:
    hash: str
    status: str = strawberry.field(description="pending, committed or dropped.")
    sender: str
    nonce: BigInt
    kind: str
    payload: JSON | None
    signature: str | None
    received_at: datetime | None
    block: BlockRef | None
    position: int | None
    ok: bool | None
    error: TransactionError | None


def _transaction_status(status: str, record) -> TransactionStatus:
    data = transaction_status_data(status, record)
    return TransactionStatus(
        **{
            **data,
            "block": data["block"] and BlockRef(**data["block"]),
            "error": data["error"] and TransactionError(**data["error"]),
        }
    )


# --- accounts ------------------------------------------------------------------


@strawberry.type(description="An account (GET /api/v1/accounts/{address}/): units and Wh.")
class Account:
    address: str
    balance: BigInt
    staked: BigInt
    unbonding: BigInt
    unbonding_release_height: BigInt
    escrow_tokens: BigInt
    energy_wh: BigInt
    escrow_wh: BigInt
    nonce: BigInt
    pending_count: int = strawberry.field(description="Transactions from it waiting in the mempool.")
    pending_token_debit: BigInt = strawberry.field(description="Most units those may take.")
    next_nonce: BigInt = strawberry.field(description="The nonce its next transaction must carry.")
    available_balance: BigInt = strawberry.field(description="Balance less pending debits.")

    @strawberry.field(
        description="The username of this site's user who owns the address: only for regulators and "
        "staff (personal data), null for everyone else and for addresses no user here owns."
    )
    def owner(self, info: Info) -> str | None:
        return account_owners(info.context.request, [self.address]).get(self.address)


def _account(address: str) -> Account:
    account = selectors.account_find(address=address) or AccountRow(address=address)
    return Account(**account_data(account, selectors.account_pending(address=address)))


@strawberry.type(description="The logged-in user's wallet (GET /api/v1/me/). The private key is never sent.")
class Me:
    username: str
    address: str
    role: str
    region: str
    account: Account


# --- queries -------------------------------------------------------------------


@strawberry.type
class ChainQuery:
    @strawberry.field(description="Latest blocks, newest first; before_height pages back.")
    def blocks(self, info: Info, limit: int = 50, before_height: BigInt | None = None) -> list[Block]:
        most = MAX_BLOCKS_WITH_TRANSACTIONS if _asks_transactions(info) else MAX_BLOCKS
        bounded_limit(limit, most)
        page = list(selectors.blocks_before(height=before_height, limit=limit))
        return batches_of(info).note("block.transactions", page)

    @strawberry.field(description="A block by height or by hash (exactly one); null if none.")
    def block(self, height: BigInt | None = None, hash: str | None = None) -> Block | None:
        if (height is None) == (hash is None):
            raise refused(errors.BAD_QUERY, "Give exactly one of height and hash.")
        if hash is not None and not is_hex64(hash):
            raise refused(errors.BAD_HASH, "A hash is 64 lowercase hex characters.")
        return selectors.block_find(height=height, block_hash=hash)

    @strawberry.field(description="A transaction's status by hash; null if this node never saw it.")
    def transaction(self, hash: str) -> TransactionStatus | None:
        if not is_hex64(hash):
            raise refused(errors.BAD_HASH, "A hash is 64 lowercase hex characters.")
        found = selectors.transaction_find(tx_hash=hash)
        return None if found is None else _transaction_status(*found)

    @strawberry.field(description="An account by address; null if the chain has none.")
    def account(self, address: str) -> Account | None:
        address_argument(address)
        return None if selectors.account_find(address=address) is None else _account(address)

    @strawberry.field(description="An account's committed transactions, newest first.")
    def account_transactions(
        self, address: str, limit: int = 50, before_height: BigInt | None = None
    ) -> list[ChainTransaction]:
        address_argument(address)
        bounded_limit(limit, MAX_BLOCKS)
        history = selectors.account_transactions(address=address).order_by("-block_id", "-position")
        if before_height is not None:
            history = history.filter(block_id__lt=before_height)
        return list(history[:limit])

    @strawberry.field(
        description="The logged-in user's wallet: needs a session (not_authenticated, no_wallet)."
    )
    def me(self, info: Info) -> Me | None:
        user = info.context.request.user
        if not user.is_authenticated:
            raise refused(errors.NOT_AUTHENTICATED, "Log in on the site to read your wallet.")
        wallet = getattr(user, "wallet", None)
        if wallet is None:
            raise refused(errors.NO_WALLET, "This user has no wallet.")
        return Me(
            username=user.get_username(),
            address=wallet.address,
            role=wallet.role,
            region=wallet.region,
            account=_account(wallet.address),
        )


def _asks_transactions(info: Info) -> bool:
    """Whether the query asks each block's transactions (directly or through fragments)."""

    def names(selections) -> set[str]:
        found = set()
        for selection in selections:
            found |= names(getattr(selection, "selections", []))
            found.add(getattr(selection, "name", ""))
        return found

    return bool({"transactions", "txHashes"} & names(info.selected_fields[0].selections))


# --- subscriptions -------------------------------------------------------------


@strawberry.type(
    description="A block just committed, as ws/chain/ announces it; query block(height) for more."
)
class NewBlock:
    height: BigInt
    hash: str
    tx_count: int
    timestamp_ms: BigInt


async def chain_blocks(info: Info) -> AsyncGenerator[dict, None]:
    """Every ``chain.block`` broadcast (chain.events) this stream's consumer receives."""
    async with info.context["ws"].listen_to_channel("chain.block", groups=[CHAIN_GROUP]) as messages:
        async for message in messages:
            yield message


@strawberry.type
class ChainSubscription:
    @strawberry.subscription(description="Each block this site commits, as it commits it.")
    async def blocks(self, info: Info) -> AsyncGenerator[NewBlock, None]:
        async for message in chain_blocks(info):
            yield NewBlock(
                height=message["height"],
                hash=message["hash"],
                tx_count=message["tx_count"],
                timestamp_ms=message["timestamp_ms"],
            )
