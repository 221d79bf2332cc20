"""The meters' write path: readings into admission, registrations signed by a grid authority.

Readings are signed by the meters themselves (over REST or MQTT); this module
only pre-checks what the database already knows (is the sender a registered,
active meter?) so a meter hears "unknown_meter" instead of "unknown_sender",
then admits them like any transaction. Registrations from the browser are
signed with this site's node key, which must be a grid authority for the region.
"""

from nacl.signing import SigningKey

from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import Transaction
from chain.models import ChainHead, Validator, Wallet
from chain.selectors import authority_get
from chain.services.admission import BatchRejected, transactions_submit
from chain.services.signing import transaction_sign_submit
from chain.store import binary_cursor
from meters.ledger import kinds as k
from meters.models import Meter

NOT_A_READING = "not_a_reading"
READING_KIND = "meter_reading"


def readings_submit(*, wires: list) -> list[Transaction]:
    """Admit signed meter_reading transactions, all or none; raises BatchRejected with reasons."""
    if not isinstance(wires, list) or not wires:
        return transactions_submit(wires)  # its refusal of an empty or malformed batch
    problems = []
    senders = {w.get("sender") for w in wires if isinstance(w, dict) and isinstance(w.get("sender"), str)}
    meters = _meters_revoked_height(sorted(senders))
    for index, wire in enumerate(wires):
        if not isinstance(wire, dict) or wire.get("kind") != READING_KIND:
            problems.append(_problem(index, NOT_A_READING, "This endpoint takes meter_reading transactions."))
        elif not isinstance(wire.get("sender"), str) or wire["sender"] not in meters:
            problems.append(_problem(index, k.UNKNOWN_METER, "The sender is not a registered meter."))
        elif meters[wire["sender"]]:
            problems.append(_problem(index, k.METER_REVOKED, "The meter was revoked by its grid authority."))
    if problems:
        raise BatchRejected(problems)
    return transactions_submit(wires)


def _meters_revoked_height(meter_ids: list[str]) -> dict[str, int]:
    """meter_id -> revoked_height (0 while active) of the registered ones among ``meter_ids``.

    The keys travel as one array parameter: a bridge batch names thousands of
    meters, and the ORM's IN list would spell (and the server parse) a placeholder each.
    """
    with binary_cursor() as cursor:
        cursor.execute(
            f"SELECT meter_id, revoked_height FROM {Meter._meta.db_table} WHERE meter_id = ANY(%b)",  # noqa: S608
            [meter_ids],
        )
        return dict(cursor.fetchall())


def _problem(index: int, code: str, message: str) -> dict:
    return {"index": index, "code": code, "message": message}


def authority_for(*, signer: str, region: str) -> bool:
    """Whether ``signer`` may register meters in ``region`` (the rule of meters.ledger.kinds)."""
    params = ChainHead.objects.only("params").get().params
    if signer == params["grid_operator"]:
        return Validator.objects.filter(public_key=signer).exists()
    authority = authority_get(public_key=signer)
    return authority is not None and authority.name == k.region_utility(params, region)


def meter_register(
    *, key: SigningKey, meter: str, owner: str, region: str, kind: str, rated_capacity_w: int
) -> Transaction:
    """Sign a meter_register with ``key`` (a grid authority) and admit it; Refused if it cannot be."""
    if not authority_for(signer=address_of(key), region=region):
        raise Refused(
            k.NOT_AUTHORITY,
            f"This site's key is not a grid authority for {region}: only its utility or the grid operator "
            "can register meters there.",
        )
    payload = {
        "meter": meter,
        "owner": owner,
        "region": region,
        "kind": kind,
        "rated_capacity_w": rated_capacity_w,
    }
    return transaction_sign_submit(key=key, kind="meter_register", payload=payload)


# --- the demo meters -----------------------------------------------------------------------

#: username -> (kind, rated capacity W). Keys come from public seeds: demo_key("meter/<username>").
DEMO_METERS = {
    "solar_somchai": ("solar", 10_000),
    "wind_korat": ("wind", 2_000_000),
    "hydro_nan": ("hydro", 1_000_000),
    "bkk_community_solar": ("solar", 1_500_000),
    "home_malee": ("consumption", 10_000),
    "factory_rayong": ("consumption", 3_000_000),
}


def demo_meter_key(username: str) -> SigningKey:
    return demo_key(f"meter/{username}")


def demo_meters_register() -> int:
    """Register the demo meters that are not yet registered, signed by MEA or PEA (demo keys).

    Returns how many registrations were admitted. Only for the demo network: its
    authority keys derive from public seeds.
    """
    head = ChainHead.objects.only("params").get()
    wallets = {
        w.user.username: w
        for w in Wallet.objects.select_related("user").filter(user__username__in=list(DEMO_METERS))
    }
    known = set(Meter.objects.values_list("meter_id", flat=True))
    admitted = 0
    for username, (kind, capacity) in DEMO_METERS.items():
        wallet = wallets.get(username)
        meter = address_of(demo_meter_key(username))
        if wallet is None or meter in known:
            continue
        utility = k.region_utility(head.params, wallet.region) or "EGAT"
        try:
            meter_register(
                key=demo_key(utility),
                meter=meter,
                owner=wallet.address,
                region=wallet.region,
                kind=kind,
                rated_capacity_w=capacity,
            )
            admitted += 1
        except Refused:
            continue  # already waiting in the mempool, or this genesis has no such authority
    return admitted
