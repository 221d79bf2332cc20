"""What a proposal may ask for, and the tally rule. Pure functions of payload and params.

Proposal payload (flat): ``title``, ``description`` (optional) and ``action``,
with the action's own fields:

- ``param_change``: ``param`` (one of PARAM_LIMITS) and integer ``value``;
- ``wheeling_fee``: ``from``, ``to`` (a transmission path) and ``value`` (units per kWh);
- ``market_mode``: ``zone`` (a region) and ``mode``: ``continuous`` (orders match as they
  arrive) or ``call_auction`` (each slot clears once at gate closure, trading.ledger.auction);
- ``validator_add``: ``public_key``, ``name``, ``url``, ``region``, ``authority``;
- ``validator_remove``: ``public_key``;
- ``authority``: ``public_key`` and ``authority`` (true or false);
- ``issuer``: ``public_key`` and ``issuer`` (true or false): who may mint and burn tokens
  (the ``issuers`` parameter, treasury.ledger.kinds);
- ``text``: nothing more; a signal, executed as a no-op.
"""

from chain.ledger import errors
from chain.ledger.encoding import MAX_SAFE_INTEGER
from chain.ledger.errors import LedgerError, ledger_text
from chain.ledger.fields import is_identifier, require_bool, require_hex64, require_text
from chain.ledger.keys import is_address
from chain.ledger.tx import is_int, require_fields

from .records import OPTIONS

PPM = 1_000_000
TITLE_MAX = 120
DESCRIPTION_MAX = 2000
NAME_MAX = 40
URL_MAX = 200

# Refusal codes (API clients match on them; tests import them).
BAD_PROPOSAL = "bad_proposal"
PROPOSAL_NOT_FOUND = "proposal_not_found"
VOTING_CLOSED = "voting_closed"
NO_STAKE = "no_stake"
UNKNOWN_VALIDATOR = "unknown_validator"
VALIDATOR_EXISTS = "validator_exists"
NOT_AUTHORITY = errors.NOT_PERMITTED

PARAM_CHANGE = "param_change"
WHEELING_FEE = "wheeling_fee"
MARKET_MODE = "market_mode"
VALIDATOR_ADD = "validator_add"
VALIDATOR_REMOVE = "validator_remove"
AUTHORITY = "authority"
ISSUER = "issuer"
TEXT = "text"
ACTIONS = (PARAM_CHANGE, WHEELING_FEE, MARKET_MODE, VALIDATOR_ADD, VALIDATOR_REMOVE, AUTHORITY, ISSUER, TEXT)
CONTINUOUS, CALL_AUCTION = "continuous", "call_auction"
MARKET_MODES = (CONTINUOUS, CALL_AUCTION)
#: The parameter a market_mode proposal changes (trading.ledger.rules.CALL_AUCTION_ZONES).
CALL_AUCTION_ZONES = "call_auction_zones"

#: Parameters a vote may change, with the smallest and largest value it may set.
PARAM_LIMITS: dict[str, tuple[int, int]] = {
    "block_interval_ms": (50, 60_000),
    "pow_difficulty_bits": (0, 24),
    "reward_per_kwh": (0, 100_000_000),
    "gate_closure_minutes": (0, 120),
    "quorum_ppm": (1, PPM),
    "threshold_ppm": (1, PPM),
    "voting_period_blocks": (1, 1_000_000),
    "execution_delay_blocks": (1, 1_000_000),
    "min_proposal_stake": (0, MAX_SAFE_INTEGER),
    # The utility's rates the monthly statement compares with (settlement.tariffs): 0 to 100 THB/kWh.
    "tariff_flat_per_kwh": (0, 100_000_000),
    "tariff_tou_peak_per_kwh": (0, 100_000_000),
    "tariff_tou_offpeak_per_kwh": (0, 100_000_000),
    "tariff_buyback_per_kwh": (0, 100_000_000),
}

_ACTION_FIELDS: dict[str, set[str]] = {
    PARAM_CHANGE: {"param", "value"},
    WHEELING_FEE: {"from", "to", "value"},
    MARKET_MODE: {"zone", "mode"},
    VALIDATOR_ADD: {"public_key", "name", "url", "region", "authority"},
    VALIDATOR_REMOVE: {"public_key"},
    AUTHORITY: {"public_key", "authority"},
    ISSUER: {"public_key", "issuer"},
    TEXT: set(),
}
_COMMON = {"title", "description", "action"}


def transmission_path(params: dict, zone_a: str, zone_b: str) -> dict | None:
    """The transmission path between two regions, either way round."""
    for path in params.get("transmission", []):
        if {path["from"], path["to"]} == {zone_a, zone_b}:
            return path
    return None


def check_text(value, field: str, maximum: int, *, required: bool = True, multiline: bool = False) -> None:
    require_text(value, field, maximum, required=required, multiline=multiline)


def check_url(value) -> None:
    check_text(value, "url", URL_MAX)
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        raise LedgerError(errors.BAD_FIELD, "url must start with http:// or https:// and hold no spaces.")


def check_region(value, params: dict) -> None:
    regions = [r["id"] for r in params.get("regions", [])]
    if not is_identifier(value) or value not in regions:
        raise LedgerError(
            errors.BAD_FIELD, "region must be one of: %(regions)s.", {"regions": ", ".join(regions)}
        )


def check_propose_payload(payload: dict, params: dict) -> None:
    action = payload.get("action")
    if action not in ACTIONS:
        raise LedgerError(
            BAD_PROPOSAL, "action must be one of: %(actions)s.", {"actions": ", ".join(ACTIONS)}
        )
    fields = _ACTION_FIELDS[action]
    require_fields(payload, _COMMON | fields, {"title", "action"} | fields)
    check_text(payload["title"], "title", TITLE_MAX)
    check_text(payload.get("description", ""), "description", DESCRIPTION_MAX, required=False, multiline=True)
    if action == PARAM_CHANGE:
        name, value = payload["param"], payload["value"]
        if not is_identifier(name) or name not in PARAM_LIMITS:
            raise LedgerError(
                BAD_PROPOSAL, "param must be one of: %(params)s.", {"params": ", ".join(PARAM_LIMITS)}
            )
        low, high = PARAM_LIMITS[name]
        if not is_int(value) or not low <= value <= high:
            raise LedgerError(
                BAD_PROPOSAL,
                "%(field)s must be a whole number from %(low)s to %(high)s.",
                {"field": name, "low": low, "high": high},
            )
        if value == params.get(name):
            raise LedgerError(
                BAD_PROPOSAL, "%(param)s is already %(value)s.", {"param": name, "value": value}
            )
    elif action == WHEELING_FEE:
        ends = payload["from"], payload["to"]
        path = transmission_path(params, *ends) if all(map(is_identifier, ends)) else None
        if path is None:
            raise LedgerError(BAD_PROPOSAL, "from and to must name a transmission path of the grid.")
        value = payload["value"]
        if not is_int(value) or not 0 <= value <= params.get("max_price_per_kwh", MAX_SAFE_INTEGER):
            raise LedgerError(
                BAD_PROPOSAL,
                "value must be a wheeling fee in units per kWh, from 0 to the market's maximum price.",
            )
        if value == path["wheeling_fee_per_kwh"]:
            raise LedgerError(BAD_PROPOSAL, "The fee of that path is already %(value)s.", {"value": value})
    elif action == MARKET_MODE:
        zone, mode = payload["zone"], payload["mode"]
        regions = [region["id"] for region in params.get("regions", [])]
        if not is_identifier(zone) or zone not in regions:
            raise LedgerError(BAD_PROPOSAL, "zone must be one of: %(zones)s.", {"zones": ", ".join(regions)})
        if mode not in MARKET_MODES:
            raise LedgerError(
                BAD_PROPOSAL, "mode must be one of: %(modes)s.", {"modes": ", ".join(MARKET_MODES)}
            )
        if (zone in params.get(CALL_AUCTION_ZONES, [])) == (mode == CALL_AUCTION):
            raise LedgerError(
                BAD_PROPOSAL,
                "%(zone)s already trades by %(mode)s.",
                {"zone": zone, "mode": mode.replace("_", " ")},
            )
    elif action == ISSUER:
        if not is_address(payload["public_key"]):
            raise LedgerError(errors.BAD_ADDRESS, "public_key must be 64 lowercase hex characters.")
        require_bool(payload["issuer"], "issuer")
        if (payload["public_key"] in params.get("issuers", [])) == payload["issuer"]:
            if payload["issuer"]:
                raise LedgerError(BAD_PROPOSAL, "That key is already an issuer.")
            raise LedgerError(BAD_PROPOSAL, "That key is not an issuer.")
    elif action in (VALIDATOR_ADD, VALIDATOR_REMOVE, AUTHORITY):
        if not is_address(payload["public_key"]):
            raise LedgerError(errors.BAD_ADDRESS, "public_key must be 64 lowercase hex characters.")
        if action == VALIDATOR_ADD:
            check_text(payload["name"], "name", NAME_MAX)
            check_url(payload["url"])
            check_region(payload["region"], params)
        if action in (VALIDATOR_ADD, AUTHORITY):
            require_bool(payload["authority"], "authority")


def action_args(payload: dict) -> dict:
    """The action's own fields: what execution needs."""
    return {name: payload[name] for name in sorted(_ACTION_FIELDS[payload["action"]])}


def check_vote_payload(payload: dict, params: dict) -> None:
    require_fields(payload, {"proposal_id", "option"}, {"proposal_id", "option"})
    require_hex64(payload["proposal_id"], "proposal_id (a proposal's id)", errors.BAD_FIELD)
    if payload["option"] not in OPTIONS:
        raise LedgerError(
            errors.BAD_FIELD, "option must be one of: %(options)s.", {"options": ", ".join(OPTIONS)}
        )


def reaches_quorum(*, voted_stake: int, total_stake: int, quorum_ppm: int) -> bool:
    """Enough of all staked tokens took part (yes, no and abstain all count)."""
    return total_stake > 0 and voted_stake * PPM >= quorum_ppm * total_stake


def passes_threshold(*, yes_stake: int, no_stake: int, threshold_ppm: int) -> bool:
    """More than ``threshold_ppm`` of the yes+no stake said yes (abstain counts for quorum only)."""
    decided = yes_stake + no_stake
    return decided > 0 and yes_stake * PPM > threshold_ppm * decided


def tally_outcome(*, yes: int, no: int, abstain: int, total: int, quorum_ppm: int, threshold_ppm: int) -> str:
    """'passed', or why not, in words: the rule every site applies identically."""
    if not reaches_quorum(voted_stake=yes + no + abstain, total_stake=total, quorum_ppm=quorum_ppm):
        return ledger_text("no quorum")
    if not passes_threshold(yes_stake=yes, no_stake=no, threshold_ppm=threshold_ppm):
        return ledger_text("threshold not reached")
    return "passed"
