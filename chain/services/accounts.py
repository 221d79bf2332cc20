"""People: sign-up with a wallet, and the limits on password guessing, kept in the Redis cache.

A password hash costs a core for a fraction of a second, so what an outsider can make this
site hash is bounded three ways:

- failed logins per client network (GTX_LOGIN_FAILURE_RATE), whatever usernames it tries;
- sign-ups per client network and for the whole site (GTX_SIGNUP_RATE, GTX_SIGNUP_SITE_RATE);
- password hashes computed at once on the site (GTX_PASSWORD_HASHES_AT_ONCE): one more is
  answered at once, never queued, so guessing from many addresses costs the site at most
  that many cores and the other pages go on.

No limit is keyed on a username alone: a stranger cannot lock a person out of their account
from everywhere, only their own network out of the login page.
"""

import ipaddress
import secrets
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction

from chain.ledger.encoding import canonical_json
from chain.ledger.errors import Refused
from chain.ledger.fields import is_signature_hex
from chain.ledger.keys import is_address, verify
from chain.models import Role, Wallet, WalletKeyEvent
from chain.services.rate_limits import rate_parse, window_count, window_hit
from chain.services.wallets import wallet_create, wallet_link_self_custody

#: Domain tag of the message a browser signs to link its self-custody key to a new login.
LINK_DOMAIN = b"GRIDTOKENX/LINK/V1\n"
BAD_LINK = "bad_link_signature"
ADDRESS_TAKEN = "address_taken"

#: Roles a person may pick at sign-up; regulators and staff are made by an administrator.
SIGNUP_ROLES = (Role.CONSUMER, Role.PRODUCER)

#: How long one hash may hold its place at most: a process killed mid-hash frees it then.
PASSWORD_HASH_HOLD_SECONDS = 30
PASSWORD_HASH_BUSY_WAIT_SECONDS = 2


class TooManyAttempts(Exception):
    """Refused before any password was hashed; ``wait_seconds`` says when to try again."""

    def __init__(self, *, reason: str, wait_seconds: int):
        self.reason = reason  # "login_failures", "signups", "signups_site" or "busy"
        self.wait_seconds = max(1, wait_seconds)
        super().__init__(f"{reason}: retry in {self.wait_seconds} s")


def client_network(ip: str) -> str:
    """The unit limits count in: an IPv4 address, or the /64 an IPv6 address is in.

    One host of IPv6 usually holds a whole /64, so counting its addresses one by one
    would give it 2^64 budgets.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def login_admit(*, ip: str) -> None:
    """Raise TooManyAttempts if the client's network spent its failed logins."""
    limit, seconds = rate_parse(settings.GTX_LOGIN_FAILURE_RATE)
    failures, wait = window_count(f"login-failures:{client_network(ip)}", seconds=seconds)
    if failures >= limit:
        raise TooManyAttempts(reason="login_failures", wait_seconds=wait)


def login_failure_record(*, ip: str) -> None:
    limit, seconds = rate_parse(settings.GTX_LOGIN_FAILURE_RATE)
    window_hit(f"login-failures:{client_network(ip)}", limit=limit, seconds=seconds)


def signup_admit(*, ip: str) -> None:
    """Count one sign-up attempt of the client's network and of the site; raise when over."""
    limit, seconds = rate_parse(settings.GTX_SIGNUP_RATE)
    allowed, wait = window_hit(f"signups:{client_network(ip)}", limit=limit, seconds=seconds)
    if not allowed:
        raise TooManyAttempts(reason="signups", wait_seconds=wait)
    limit, seconds = rate_parse(settings.GTX_SIGNUP_SITE_RATE)
    allowed, wait = window_hit("signups:site", limit=limit, seconds=seconds)
    if not allowed:
        raise TooManyAttempts(reason="signups_site", wait_seconds=wait)


@contextmanager
def password_hash_slot():
    """Hold one of the site's GTX_PASSWORD_HASHES_AT_ONCE places for hashing a password.

    Each place is a cache key taken with an atomic add (SET NX) that expires by itself
    after PASSWORD_HASH_HOLD_SECONDS. Raises TooManyAttempts("busy") when all are taken.
    """
    token = secrets.token_hex(8)
    for index in range(settings.GTX_PASSWORD_HASHES_AT_ONCE):
        key = f"password-hash-slot:{index}"
        if cache.add(key, token, PASSWORD_HASH_HOLD_SECONDS):
            break
    else:
        raise TooManyAttempts(reason="busy", wait_seconds=PASSWORD_HASH_BUSY_WAIT_SECONDS)
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def user_signup(*, username: str, password: str, role: str, region: str) -> Wallet:
    """A new user and their wallet, in one transaction: no user is left without a key.

    The caller admits the attempt first (signup_admit); the hash takes a place of its own.
    """
    if role not in SIGNUP_ROLES:
        raise ValueError(f"{role!r} is not a sign-up role")
    with password_hash_slot(), transaction.atomic():
        try:
            with transaction.atomic():  # the form checked the name; a twin request may have won since
                user = get_user_model().objects.create_user(username=username, password=password)
        except IntegrityError:
            raise UsernameTaken(username) from None
        return wallet_create(user=user, role=role, region=region)


def self_custody_link_message(
    *, chain_id: str, site: str, challenge: str, username: str, address: str
) -> bytes:
    """What the browser signs to prove it holds ``address``'s key (docs/PROTOCOL.md, 4.1).

    The one-use ``challenge`` of this site's session, the site's host and the username bind the
    signature to this sign-up: it cannot be replayed at another site or for another login.
    """
    fields = {
        "address": address,
        "chain_id": chain_id,
        "challenge": challenge,
        "site": site,
        "username": username,
    }
    return LINK_DOMAIN + canonical_json(fields)


def user_signup_self_custody(
    *,
    username: str,
    password: str,
    role: str,
    region: str,
    address: str,
    signature: str,
    message: bytes,
    client_ip: str | None,
) -> Wallet:
    """A new user whose wallet key stays in their browser: ``signature`` over ``message``
    (self_custody_link_message) must verify under ``address``. Nothing is created otherwise;
    the link goes into the key audit trail (WalletKeyEvent)."""
    if role not in SIGNUP_ROLES:
        raise ValueError(f"{role!r} is not a sign-up role")
    if not is_address(address) or not is_signature_hex(signature) or not verify(address, message, signature):
        raise Refused(
            BAD_LINK, "Your browser's signature does not prove it holds this key. Reload and try again."
        )
    if Wallet.objects.filter(address=address).exists():
        raise Refused(ADDRESS_TAKEN, "Another user of this site already holds this address.")
    with password_hash_slot(), transaction.atomic():
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(username=username, password=password)
        except IntegrityError:
            raise UsernameTaken(username) from None
        try:
            with transaction.atomic():
                wallet = wallet_link_self_custody(user=user, role=role, region=region, address=address)
        except IntegrityError:
            raise Refused(ADDRESS_TAKEN, "Another user of this site already holds this address.") from None
        WalletKeyEvent.objects.create(
            user=user, action=WalletKeyEvent.Action.LINKED, address=address, client_ip=client_ip or None
        )
        return wallet


class UsernameTaken(Exception):
    """Another sign-up took the username between the form's check and the insert."""
