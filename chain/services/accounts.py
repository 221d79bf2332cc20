"""People: sign-up with a wallet, and login throttling kept in the Redis cache."""

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction

from chain.models import Role, Wallet
from chain.services.rate_limits import counter_incr
from chain.services.wallets import wallet_create

#: Roles a person may pick at sign-up; regulators and staff are made by an administrator.
SIGNUP_ROLES = (Role.CONSUMER, Role.PRODUCER)

LOGIN_MAX_FAILURES = 5
LOGIN_LOCK_SECONDS = 15 * 60


def user_signup(*, username: str, password: str, role: str, region: str) -> Wallet:
    """A new user and their wallet, in one transaction: no user is left without a key."""
    if role not in SIGNUP_ROLES:
        raise ValueError(f"{role!r} is not a sign-up role")
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, password=password)
        return wallet_create(user=user, role=role, region=region)


def _failures_key(username: str, ip: str) -> str:
    return f"login-failures:{username.lower()}:{ip}"


def login_locked(*, username: str, ip: str) -> bool:
    return cache.get(_failures_key(username, ip), 0) >= LOGIN_MAX_FAILURES


def login_failure_record(*, username: str, ip: str) -> int:
    """Count a failed login; the lock lasts LOGIN_LOCK_SECONDS from the latest failure."""
    key = _failures_key(username, ip)
    count = counter_incr(key, timeout=LOGIN_LOCK_SECONDS)
    if count > 1:
        cache.touch(key, LOGIN_LOCK_SECONDS)
    return count


def login_failures_clear(*, username: str, ip: str) -> None:
    cache.delete(_failures_key(username, ip))
