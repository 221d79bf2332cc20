"""The meters' write path: readings into admission, registrations signed by a grid authority.

Readings are signed by the meters themselves (over REST or MQTT); this module
only pre-checks what the database already knows (is the sender a registered,
active meter?) so a meter hears "unknown_meter" instead of "unknown_sender",
then admits them like any transaction. Registrations from the browser are
signed with this site's node key, which must be a grid authority for the region.

A producer's meter request (``meter_request_*``) is a row of this site: the
region's utility (its staff, at the site whose node key is that utility) approves
it, which signs the utility's meter_register, or refuses it with a reason.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from nacl.signing import SigningKey

from chain.ledger import errors
from chain.ledger.errors import LedgerError, Refused, ledger_text
from chain.ledger.fields import require_text
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import Transaction
from chain.models import Account, ChainHead, MempoolTx, Validator, Wallet
from chain.node import node_address, node_signing_key
from chain.selectors import authority_get
from chain.services.admission import BatchRejected, transactions_submit
from chain.services.signing import transaction_sign_submit
from chain.store import binary_cursor
from meters.ledger import kinds as k
from meters.models import METER_REQUEST_TRANSITIONS, Meter, MeterRequest, MeterRequestStatus

NOT_A_READING = "not_a_reading"
READING_KIND = "meter_reading"


def readings_submit(*, wires: list, hold_gaps: bool = True) -> list[Transaction]:
    """Admit signed meter_reading transactions, all or none; raises BatchRejected with reasons.

    With ``hold_gaps`` (the REST API, which answers such a reading ``held``) a reading ahead of
    its meter's next nonce is held for its predecessor; without (the MQTT bridge, which can only
    answer accepted or rejected) it is refused ``nonce_gap``."""
    if not isinstance(wires, list) or not wires:
        return transactions_submit(wires)  # its refusal of an empty or malformed batch
    problems = []
    senders = {w.get("sender") for w in wires if isinstance(w, dict) and isinstance(w.get("sender"), str)}
    meters = _meters_revoked_height(sorted(senders))
    for index, wire in enumerate(wires):
        if not isinstance(wire, dict) or wire.get("kind") != READING_KIND:
            problems.append(
                _problem(index, NOT_A_READING, ledger_text("This endpoint takes meter_reading transactions."))
            )
        elif not isinstance(wire.get("sender"), str) or wire["sender"] not in meters:
            problems.append(
                _problem(index, k.UNKNOWN_METER, ledger_text("The sender is not a registered meter."))
            )
        elif meters[wire["sender"]]:
            problems.append(
                _problem(index, k.METER_REVOKED, ledger_text("The meter was revoked by its grid authority."))
            )
    if problems:
        raise BatchRejected(problems)
    return transactions_submit(wires, hold_gaps=hold_gaps)


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
            ledger_text(
                "This site's key is not a grid authority for %(region)s: "
                "only its utility or the grid operator can register meters there.",
                region=region,
            ),
        )
    payload = {
        "meter": meter,
        "owner": owner,
        "region": region,
        "kind": kind,
        "rated_capacity_w": rated_capacity_w,
    }
    return transaction_sign_submit(key=key, kind="meter_register", payload=payload)


# --- producers' meter requests -----------------------------------------------------------

# Refusal codes of the request flow (the ledger's own are in meters.ledger.kinds).
NOT_UTILITY_SITE = "not_utility_site"
REQUEST_NOT_FOUND = "meter_request_not_found"
ALREADY_DECIDED = "already_decided"
REASON_MAX = 200


def site_utility_regions(params: dict | None = None) -> list[str]:
    """The regions whose utility this site's node key is (MEA's site: Bangkok), in genesis order.

    Only these regions' requests are decided here: the utility answers for its own
    grid (the grid operator may also sign meter_register, but does not take requests).
    """
    params = params if params is not None else ChainHead.objects.only("params").get().params
    authority = authority_get(public_key=node_address())
    if authority is None:
        return []
    return [r["id"] for r in params["regions"] if r.get("utility") == authority.name]


def _require_utility_site(region: str, params: dict) -> None:
    if region in site_utility_regions(params):
        return
    utility = k.region_utility(params, region)
    site = Validator.objects.filter(name=utility).values_list("url", flat=True).first() if utility else None
    if site:
        message = ledger_text(
            "Meters in %(region)s are registered by %(utility)s: this site's key is not %(utility)s's. "
            "Ask at %(utility)s's site at %(site)s.",
            region=region,
            utility=utility,
            site=site,
        )
    else:
        message = ledger_text(
            "Meters in %(region)s are registered by %(utility)s: this site's key is not %(utility)s's. "
            "Ask at %(utility)s's site.",
            region=region,
            utility=utility,
        )
    raise Refused(NOT_UTILITY_SITE, message, "region")


def _require_registrable(*, device_key: str, owner: str) -> None:
    """What meter_register would refuse for this key and owner, said before anything changes."""
    if (
        Meter.objects.filter(meter_id=device_key).exists()
        or MempoolTx.objects.filter(kind="meter_register", payload__meter=device_key).exists()
    ):
        raise Refused(k.METER_EXISTS, "This device key is already registered on the chain.", "device_key")
    if Account.objects.filter(address=device_key).exists():
        raise Refused(
            k.METER_KEY_IN_USE,
            "This key already has an account: a meter needs a key of its own.",
            "device_key",
        )
    if not Account.objects.filter(address=owner).exists():
        raise Refused(
            k.UNKNOWN_OWNER,
            "Your account is not on the chain yet: top up your wallet first, then ask again.",
        )


def meter_request_create(
    *, user, wallet: Wallet, device_key: str, kind: str, rated_capacity_w: int, region: str
) -> MeterRequest:
    """Record a producer's request that ``region``'s utility register their meter.

    Checked as meter_register will be (shape, key free, owner on chain), and only at
    the site of the region's utility, whose staff answer it; refused with a reason
    and nothing recorded otherwise.
    """
    params = ChainHead.objects.only("params").get().params
    payload = {
        "meter": device_key,
        "owner": wallet.address,
        "region": region,
        "kind": kind,
        "rated_capacity_w": rated_capacity_w,
    }
    try:
        k.check_register_payload(payload, params)
    except LedgerError as exc:
        field = {errors.BAD_AMOUNT: "rated_capacity_w", k.UNKNOWN_REGION: "region"}.get(
            exc.code, "device_key"
        )
        raise Refused(exc.code, exc.message, field) from exc
    _require_utility_site(region, params)
    _require_registrable(device_key=device_key, owner=wallet.address)
    try:
        with transaction.atomic():
            return MeterRequest.objects.create(
                user=user,
                owner=wallet.address,
                device_key=device_key,
                kind=kind,
                rated_capacity_w=rated_capacity_w,
                region=region,
            )
    except IntegrityError as exc:  # meter_request_one_live_per_key
        raise Refused(
            errors.DUPLICATE,
            "This device key is already in a request that waits or was approved.",
            "device_key",
        ) from exc


def _claim(request_id: int, to: str) -> MeterRequest:
    """The request, locked until the caller's transaction ends; Refused unless it may move to ``to``."""
    request = MeterRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is None:
        raise Refused(REQUEST_NOT_FOUND, "There is no meter request with this number.")
    if to not in METER_REQUEST_TRANSITIONS[request.status]:
        raise Refused(
            ALREADY_DECIDED, ledger_text("This request was already %(status)s.", status=request.status)
        )
    _require_utility_site(request.region, ChainHead.objects.only("params").get().params)
    return request


def meter_request_approve(*, request_id: int, staff) -> MeterRequest:
    """Approve a waiting request: sign the utility's meter_register with this site's node key.

    The request is locked, checked and moved in the same database transaction as the
    registration is admitted: a refusal anywhere leaves both unchanged, and a second
    click finds the request decided.
    """
    with transaction.atomic():
        request = _claim(request_id, MeterRequestStatus.APPROVED)
        _require_registrable(device_key=request.device_key, owner=request.owner)
        tx = meter_register(
            key=node_signing_key(),
            meter=request.device_key,
            owner=request.owner,
            region=request.region,
            kind=request.kind,
            rated_capacity_w=request.rated_capacity_w,
        )
        request.status = MeterRequestStatus.APPROVED
        request.register_tx_hash = tx.hash
        request.decided_by = staff
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "register_tx_hash", "decided_by", "decided_at"])
    return request


def meter_request_refuse(*, request_id: int, staff, reason: str) -> MeterRequest:
    """Refuse a waiting request with a reason the producer reads; nothing is signed."""
    try:
        reason = require_text(reason.strip(), "reason", REASON_MAX, required=True)
    except LedgerError as exc:
        raise Refused(
            exc.code,
            ledger_text("Say why, in at most %(max)s characters of plain text.", max=REASON_MAX),
            "reason",
        ) from exc
    with transaction.atomic():
        request = _claim(request_id, MeterRequestStatus.REFUSED)
        request.status = MeterRequestStatus.REFUSED
        request.reason = reason
        request.decided_by = staff
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    return request


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
