"""Wallet keys across sites: an encrypted backup to take away, its import, and self-custody sign-up.

The services (chain.services.key_backup, chain.services.accounts) check, count and audit;
these views parse the forms and answer 400 for a refusal, 429 past a limit, with the
form and its reason, and nothing changed.
"""

import secrets

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain import selectors
from chain.client_address import client_ip
from chain.forms import (
    KeyBackupExportForm,
    KeyBackupImportForm,
    SelfCustodySignupForm,
    too_many_attempts_error,
)
from chain.ledger.errors import Refused
from chain.refusals import refusal_text
from chain.services import key_backup
from chain.services.accounts import (
    TooManyAttempts,
    UsernameTaken,
    self_custody_link_message,
    signup_admit,
    user_signup_self_custody,
)
from chain.views.access import trading_wallet_required

LINK_CHALLENGE_SESSION_KEY = "self_custody_link_challenge"


def _key_page(request, *, export_form=None, import_form=None, status=200):
    context = {
        "wallet": request.user.wallet,
        "export_form": export_form or KeyBackupExportForm(),
        "import_form": import_form or KeyBackupImportForm(),
        "max_backup_bytes": key_backup.MAX_BACKUP_BYTES,
    }
    return render(request, "chain/wallet/key.html", context, status=status)


def _refuse(form, exc: Refused | TooManyAttempts) -> int:
    """Put the refusal on the form; the status to answer with."""
    if isinstance(exc, TooManyAttempts):
        form.add_error(None, too_many_attempts_error(exc))
        return 429
    form.add_error(exc.field if exc.field in form.fields else None, refusal_text(exc.message))
    return 400


def _retry_after(response, exc):
    if isinstance(exc, TooManyAttempts):
        response["Retry-After"] = str(exc.wait_seconds)
    return response


@login_required
@trading_wallet_required
def wallet_key(request):
    """Export this site's key of the person's wallet, or import a backup as their wallet here."""
    return _key_page(request)


@login_required
@trading_wallet_required
@require_POST
def wallet_key_export(request):
    form = KeyBackupExportForm(request.POST)
    if not form.is_valid():
        return _key_page(request, export_form=form, status=400)
    try:
        data = form.cleaned_data
        document = key_backup.wallet_backup_export(
            request=request, password=data["password"], passphrase=data["passphrase"]
        )
    except (Refused, TooManyAttempts) as exc:
        return _retry_after(_key_page(request, export_form=form, status=_refuse(form, exc)), exc)
    address = request.user.wallet.address
    response = HttpResponse(document, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="gridtokenx-wallet-{address[:12]}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@trading_wallet_required
@require_POST
def wallet_key_import(request):
    form = KeyBackupImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _key_page(request, import_form=form, status=400)
    upload = form.cleaned_data["backup"]
    # Read one byte past the limit at most: the service refuses the size, whatever was sent.
    raw = upload.read(key_backup.MAX_BACKUP_BYTES + 1)
    try:
        wallet = key_backup.wallet_backup_import(
            request=request,
            raw=raw,
            password=form.cleaned_data["password"],
            passphrase=form.cleaned_data["passphrase"],
        )
    except (Refused, TooManyAttempts) as exc:
        return _retry_after(_key_page(request, import_form=form, status=_refuse(form, exc)), exc)
    messages.success(
        request,
        gettext("Imported. Your wallet on this site is now {address}….").format(address=wallet.address[:12]),
    )
    return redirect("wallet")


def signup_self_custody(request):
    """Sign up with a key the browser makes and keeps (static/js/self_custody.js).

    The browser signs the link message (chain.services.accounts.self_custody_link_message)
    with the one-use challenge this session was given; the site stores only the address.
    """
    if request.user.is_authenticated:
        return redirect("wallet")
    form = SelfCustodySignupForm(request.POST or None)
    status = 200
    challenge = request.session.get(LINK_CHALLENGE_SESSION_KEY)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if challenge is None:
                raise Refused("bad_link_signature", "This page has expired. Reload it and try again.")
            signup_admit(ip=client_ip(request))
            message = self_custody_link_message(
                chain_id=selectors.chain_head().chain_id,
                site=request.get_host(),
                challenge=challenge,
                username=data["username"],
                address=data["address"],
            )
            wallet = user_signup_self_custody(
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                region=data["region"],
                address=data["address"],
                signature=data["signature"],
                message=message,
                client_ip=client_ip(request),
            )
        except TooManyAttempts as exc:
            form.add_error(None, too_many_attempts_error(exc))
            status = 429
        except UsernameTaken:
            form.add_error("username", "A user with that username already exists.")
            status = 400
        except Refused as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 400
        else:
            del request.session[LINK_CHALLENGE_SESSION_KEY]
            login(request, wallet.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                gettext(
                    "Welcome! Your key is in this browser only; this site never saw it. Save a key file now."
                ),
            )
            return redirect("wallet")
    elif request.method == "POST":
        status = 400
    # A fresh challenge for every form shown: a signature made for one page is good once.
    challenge = secrets.token_hex(16)
    request.session[LINK_CHALLENGE_SESSION_KEY] = challenge
    context = {
        "form": form,
        "challenge": challenge,
        "chain_id": selectors.chain_head().chain_id,
        "site": request.get_host(),
    }
    return render(request, "registration/signup_self_custody.html", context, status=status)
