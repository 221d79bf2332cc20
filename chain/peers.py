"""Where the other validators' and the followers' sites are: genesis urls, overridden by settings.

The validator set (names, public keys, genesis urls) lives in the chain state
(the Validator table); GTX_PEER_URLS maps a validator's name to another base
URL, so that a local network of sites on one machine, or a deployment behind
other host names, needs no change of genesis.
"""

from collections.abc import Iterable

from django.conf import settings

from chain.models import Validator


def peer_urls(*, active_only: bool = True, include_self: bool = False) -> dict[str, str]:
    """{validator public key: base URL without a trailing slash} of the sites to talk to.

    By default the active validators other than this site (its node key). A
    validator without a url in either place is left out: there is nowhere to send to.
    """
    from chain.node import node_address

    validators = Validator.objects.all()
    if active_only:
        validators = validators.filter(active=True)
    me = None if include_self else node_address()
    return site_urls(validators.values_list("public_key", "name", "url"), me=me)


def site_urls(validators: Iterable[tuple[str, str, str]], *, me: str | None) -> dict[str, str]:
    """{public key: base URL} of ``validators`` (public key, name, genesis url) other than
    ``me``: GTX_PEER_URLS overrides a url by the validator's name, and one with no url is
    left out."""
    overrides = settings.GTX_PEER_URLS
    urls = {}
    for public_key, name, url in validators:
        if public_key == me:
            continue
        url = overrides.get(name, url).rstrip("/")
        if url:
            urls[public_key] = url
    return urls


def follower_urls() -> dict[str, str]:
    """{public key: base URL} of the registered followers: validator records that are not
    active (governance may activate them), other than this site, that have a url."""
    active = set(Validator.objects.filter(active=True).values_list("public_key", flat=True))
    return {key: url for key, url in peer_urls(active_only=False).items() if key not in active}


def peer_url(public_key: str) -> str | None:
    """The base URL of one validator's site (active or not), or None when it has none."""
    return peer_urls(active_only=False, include_self=True).get(public_key)
