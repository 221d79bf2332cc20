"""Hypothesis: random transfers and stake moves against the ledger core's invariants (MemoryStore)."""

import copy
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.ledger.block import execute_block
from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.keys import address_of
from chain.ledger.state import ACCUMULATOR_MOD, Account, MemoryStore, State, leaf_value, state_root
from chain.ledger.tx import sign_transaction
from tests.conftest import GENESIS_PATH

GENESIS = load_genesis(GENESIS_PATH)
#: Unbonded stake comes back after two blocks, so releases happen within a test case.
PARAMS = copy.deepcopy(GENESIS.params) | {"unbonding_blocks": 2}
ACTORS = ("solar_somchai", "wind_korat", "hydro_nan", "home_malee", "factory_rayong")
KEYS = {name: demo_key(name) for name in ACTORS}
#: An address no genesis account holds: transfers to it create an account.
STRANGER = "ab" * 32
TOKEN = GENESIS.token_unit
T0 = 1_800_000_000_000

amounts = st.one_of(
    st.integers(1, 50 * TOKEN),
    st.sampled_from((1, 2_000 * TOKEN, 10_000 * TOKEN, 10_001 * TOKEN, 2**53 - 1)),
)
operations = st.tuples(
    st.sampled_from(ACTORS),
    st.sampled_from(("transfer", "transfer", "transfer", "stake_bond", "stake_unbond")),
    st.sampled_from((*ACTORS, STRANGER)),
    amounts,
)
block_plans = st.lists(st.lists(operations, min_size=0, max_size=8), min_size=1, max_size=6)


def genesis_store() -> MemoryStore:
    return MemoryStore.holding(GENESIS.records())


def sign_blocks(plan) -> list[list]:
    """Signed transactions for each block, nonces counted per sender as the core counts them."""
    nonces = dict.fromkeys(ACTORS, 0)
    blocks = []
    for operations_of_block in plan:
        txs = []
        for sender, kind, to, amount in operations_of_block:
            payload = {"amount": amount}
            if kind == "transfer":
                payload["to"] = to if to == STRANGER else address_of(KEYS[to])
            txs.append(
                sign_transaction(
                    KEYS[sender], chain_id=GENESIS.chain_id, nonce=nonces[sender], kind=kind, payload=payload
                )
            )
            nonces[sender] += 1
        blocks.append(txs)
    return blocks


def run_block(store: MemoryStore, txs: list, height: int):
    state = State(store, store.accumulator)
    result = execute_block(
        state,
        txs,
        chain_id=GENESIS.chain_id,
        height=height,
        timestamp_ms=T0 + height * 1000,
        params=PARAMS,
        strict=False,
        verify_signatures=True,
    )
    store.write(state)
    return result


def replay(blocks: list[list]) -> tuple[MemoryStore, list[str]]:
    store = genesis_store()
    roots = []
    for height, txs in enumerate(blocks, start=1):
        run_block(store, txs, height)
        roots.append(store.root)
    return store, roots


def total_supply(store: MemoryStore) -> int:
    return sum(a.total_tokens for a in store.tables["account"].values())


def recomputed_root(store: MemoryStore) -> str:
    """The state root from scratch: every record's leaf, summed."""
    total = sum(leaf_value(table, r) for table, rows in store.tables.items() for r in rows.values())
    return state_root(total % ACCUMULATOR_MOD)


@settings(max_examples=40, deadline=None)
@given(block_plans)
def test_replaying_the_same_blocks_from_genesis_gives_the_same_state_root(plan):
    blocks = sign_blocks(plan)
    first, first_roots = replay(blocks)
    second, second_roots = replay(blocks)
    assert first_roots == second_roots
    assert first.tables == second.tables


@settings(max_examples=40, deadline=None)
@given(block_plans)
def test_transfers_and_stake_moves_conserve_the_total_supply(plan):
    store = genesis_store()
    supply = total_supply(store)
    for height, txs in enumerate(sign_blocks(plan), start=1):
        run_block(store, txs, height)
        assert total_supply(store) == supply


@settings(max_examples=40, deadline=None)
@given(block_plans)
def test_no_balance_ever_goes_negative(plan):
    store = genesis_store()
    for height, txs in enumerate(sign_blocks(plan), start=1):
        result = run_block(store, txs, height)
        for account in store.tables["account"].values():
            assert min(account.balance, account.staked, account.unbonding, account.escrow_tokens) >= 0
        refused = {r.code for r in result.receipts if not r.ok}
        assert refused <= {"insufficient_funds", "insufficient_stake", "self_transfer"}


@settings(max_examples=40, deadline=None)
@given(block_plans)
def test_every_included_transaction_consumes_its_senders_nonce(plan):
    blocks = sign_blocks(plan)
    store, _ = replay(blocks)
    for name in ACTORS:
        sent = sum(1 for txs in blocks for tx in txs if tx.sender == address_of(KEYS[name]))
        account = store.tables["account"].get(address_of(KEYS[name]))
        assert account.nonce == sent


@settings(max_examples=40, deadline=None)
@given(block_plans)
def test_the_incremental_state_root_equals_one_recomputed_from_every_record(plan):
    store, _ = replay(sign_blocks(plan))
    assert store.root == recomputed_root(store)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(ACTORS), st.integers(0, 10**12), st.integers(0, 10**12)),
        min_size=1,
        max_size=8,
    ),
    st.randoms(use_true_random=False),
)
def test_the_state_root_does_not_depend_on_the_order_records_are_written_in(changes, rnd):
    records = [
        Account(address=address_of(KEYS[name]), balance=balance, staked=staked)
        for name, balance, staked in changes
    ]
    last_by_key = {r.key: r for r in records}  # a later write of one key wins in both orders
    shuffled = list(last_by_key.values())
    rnd.shuffle(shuffled)
    roots = []
    for order in (list(last_by_key.values()), shuffled):
        store = genesis_store()
        state = State(store, store.accumulator)
        for record in order:
            state.put(record)
            state.commit_tx()
        roots.append(state.root)
    assert roots[0] == roots[1]


def test_a_record_changed_back_leaves_the_state_root_as_it_was():
    store = genesis_store()
    state = State(store, store.accumulator)
    original = state.account(address_of(KEYS["home_malee"]))
    for balance in (1, 2, original.balance):
        state.put(Account(**{**_fields(original), "balance": balance}))
        state.commit_tx()
    assert state.root == store.root


def test_a_rolled_back_transaction_changes_neither_records_nor_root():
    store = genesis_store()
    state = State(store, store.accumulator)
    address = address_of(KEYS["home_malee"])
    state.put(Account(address=address, balance=1))
    state.rollback_tx()
    assert state.dirty_records() == {}
    assert state.root == store.root
    assert state.account(address) == store.tables["account"][address]


def test_blocks_from_one_plan_give_the_same_roots_whichever_way_they_are_grouped():
    """Same transactions, different block boundaries: the final state is the same."""
    plan = [[("home_malee", "transfer", "wind_korat", 5), ("wind_korat", "stake_bond", "", 7)]] * 3
    flat = list(itertools.chain.from_iterable(sign_blocks(plan)))
    in_one = replay([flat])[0]
    in_three = replay([flat[:2], flat[2:5], flat[5:]])[0]
    assert in_one.root == in_three.root


def _fields(account: Account) -> dict:
    return {f: getattr(account, f) for f in Account.__dataclass_fields__ if f != "table"}
