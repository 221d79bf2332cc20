"""The GridTokenX protocol: every transaction kind, record table and begin-block hook, in order.

The one place that says which state machine a site runs. The apps' ``ledger``
packages define kinds, records and hooks; nothing is registered by importing
them. ``install()`` puts this list in force, once per process: a site calls it
when Django is ready (protocol.apps), and a benchmark or script that runs the
ledger without Django calls it itself, so both run the same state machine.
``FINGERPRINT`` changes whenever a kind, a table, a table's fields, a hook or
their order does: tests/protocol pins it.

Plain Python, no Django: it imports the ledger cores only.
"""

from chain.ledger import evidence
from chain.ledger import kinds as chain_kinds
from chain.ledger.assembly import StateMachine, fingerprint, installed
from chain.ledger.assembly import install as install_state_machine
from chain.ledger.state import Account, Mining, Param, Validator
from governance.ledger import proposals, validators
from governance.ledger import records as governance_records
from grid.ledger import kinds as grid_kinds
from grid.ledger import records as grid_records
from meters.ledger import kinds as meter_kinds
from meters.ledger import records as meter_records
from settlement.ledger import certificates, delivery
from trading.ledger import agreements, auction, matching, orders
from trading.ledger import records as trading_records
from treasury.ledger import kinds as treasury_kinds
from treasury.ledger import records as treasury_records

STATE_MACHINE = StateMachine(
    kinds=(
        chain_kinds.TRANSFER,
        chain_kinds.STAKE_BOND,
        chain_kinds.STAKE_UNBOND,
        chain_kinds.VALIDATOR_SET_MINING,
        evidence.EVIDENCE_DOUBLE_SIGN,
        orders.ORDER_PLACE,
        orders.ORDER_CANCEL,
        grid_kinds.GRID_REPORT,
        grid_kinds.GRID_PATH_LIMIT,
        proposals.GOVERNANCE_PROPOSE,
        proposals.GOVERNANCE_VOTE,
        validators.VALIDATOR_REGISTER,
        validators.VALIDATOR_SET_ACTIVE,
        validators.VALIDATOR_UNJAIL,
        meter_kinds.METER_REGISTER,
        meter_kinds.METER_REVOKE,
        meter_kinds.METER_READING,
        treasury_kinds.TOKEN_MINT,
        treasury_kinds.CASHOUT_REQUEST,
        treasury_kinds.TOKEN_BURN,
        treasury_kinds.CASHOUT_RELEASE,
        treasury_kinds.TOPUP_REQUEST,
        treasury_kinds.TOPUP_REFUSE,
        certificates.CERTIFICATE_TRANSFER,
        certificates.CERTIFICATE_CLAIM,
        agreements.AGREEMENT_OFFER,
        agreements.AGREEMENT_ACCEPT,
        agreements.AGREEMENT_END,
    ),
    tables=(
        Account,
        Validator,
        Param,
        Mining,
        evidence.DoubleSign,
        trading_records.Order,
        trading_records.Trade,
        trading_records.LineUsage,
        trading_records.CallClearing,
        trading_records.CallOrders,
        delivery.SettlementAccount,
        grid_records.RegionStatus,
        grid_records.GridSample,
        grid_records.PathStatus,
        grid_records.PathLimit,
        grid_records.GridAlarm,
        governance_records.Proposal,
        governance_records.Vote,
        governance_records.Counter,
        meter_records.Meter,
        meter_records.SlotEnergy,
        treasury_records.Payment,
        treasury_records.CashOut,
        treasury_records.TopUp,
        certificates.Certificate,
        agreements.Agreement,
    ),
    # The order every block runs them in: the tally (a parameter change applies to
    # what follows), then the call auctions whose gate has closed, then the market's
    # expiry and gate closure (what the calls left), then the standing agreements'
    # orders of their next slots, then settlement of the slots whose grace period
    # has passed.
    begin_block=(
        proposals.TALLY_AND_EXECUTE,
        auction.CLEAR_DUE_CALLS,
        orders.CLOSE_DUE_ORDERS,
        agreements.PLACE_AGREEMENT_ORDERS,
        delivery.SETTLE_DUE_TRADES,
    ),
)

#: Limits on the market's path capacity from outside it, applied in this order by every fill.
CAPACITY_LIMITS = (grid_kinds.grid_capacity_limit,)


def outline(machine: StateMachine, capacity_limits) -> dict:
    """What decides behaviour, as plain data: the state machine's outline and the capacity limits."""
    return {
        **machine.outline(),
        "capacity_limits": [f"{limit.__module__}.{limit.__qualname__}" for limit in capacity_limits],
    }


FINGERPRINT = fingerprint(outline(STATE_MACHINE, CAPACITY_LIMITS))


def install() -> None:
    """Put the protocol in force in this process; installing again changes nothing."""
    install_state_machine(STATE_MACHINE)
    matching.install_capacity_limits(CAPACITY_LIMITS)


def installed_fingerprint() -> str:
    """The fingerprint of what this process runs now: FINGERPRINT once ``install()`` ran."""
    return fingerprint(outline(installed(), matching.CAPACITY_LIMITS))
