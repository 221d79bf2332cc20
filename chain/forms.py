"""Browser forms: parse what a person typed into exact integer units, or say in words what is wrong.

Token amounts are typed in tokens with at most 6 decimals and parsed with
Decimal, never float, so "0.1" is exactly 100,000 units.
"""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from chain import selectors
from chain.client_address import client_ip
from chain.ledger.encoding import MAX_SAFE_INTEGER
from chain.ledger.keys import is_address
from chain.ledger.kinds import MEMO_MAX
from chain.services.accounts import (
    SIGNUP_ROLES,
    TooManyAttempts,
    login_admit,
    login_failure_record,
    password_hash_slot,
)
from chain.units import TOKEN_DECIMALS, tokens_text

#: ASCII digits only (``\d`` would take Thai or full-width digits), one point at most.
DECIMAL_RE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
#: Commas are accepted only where they group thousands: "1,500" or "12,345.5", never "1,5".
GROUPED_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")

# Messages people read; tests import them. Marked for the catalog here and translated when raised
# (gettext), so the constants stay the English text; AMOUNT_TOO_PRECISE reads the same as
# trading.forms.PRICE_TOO_PRECISE, which marks it.
AMOUNT_NOT_A_NUMBER = gettext_noop("Enter an amount in tokens, such as 12 or 0.5.")
AMOUNT_NOT_POSITIVE = gettext_noop("The amount must be more than zero.")
AMOUNT_TOO_PRECISE = f"Use at most {TOKEN_DECIMALS} decimal places (the smallest unit is 0.000001 token)."
AMOUNT_TOO_LARGE = gettext_noop("That amount is larger than the ledger can hold.")
COMMA_NOT_GROUPING = gettext_noop(
    "Use a point for decimals (1.5); a comma may only separate thousands (1,500)."
)
AMOUNT_OVER_AVAILABLE = gettext_noop("That is more than you can send: {available} tokens available.")
AMOUNT_OVER_STAKED = gettext_noop("That is more than you can unbond: {unbondable} tokens staked.")
ADDRESS_MALFORMED = gettext_noop(
    "An address is 64 characters, 0-9 and a-f (copy it from the recipient's wallet page)."
)
ADDRESS_UNKNOWN = gettext_noop("No account on this chain has that address yet. Check it with the recipient.")
ADDRESS_SELF = gettext_noop("That is your own address: you cannot send tokens to yourself.")
#: What a person is told when chain.services.accounts refuses an attempt, by its reason.
TOO_MANY_ATTEMPTS = {
    "login_failures": "Too many failed logins from your network. Try again in {wait}.",
    "signups": "Too many new accounts from your network. Try again in {wait}.",
    "signups_site": "This site has opened as many accounts as it can for now. Try again in {wait}.",
    "busy": "The site is busy checking other passwords. Try again in {wait}.",
    "key_backup": "Too many key backup attempts. Try again in {wait}.",
}


def typed_number(text: str | None) -> str:
    """A number as a person typed it, with thousands commas taken out.

    A comma that does not group thousands is refused rather than dropped: "1,5"
    meant 1.5 in much of the world, and read as 15 it would sign an order ten times
    too large.
    """
    text = (text or "").strip()
    if "," in text:
        if not GROUPED_RE.fullmatch(text):
            raise forms.ValidationError(gettext(COMMA_NOT_GROUPING))
        text = text.replace(",", "")
    return text


def parse_decimal_units(
    text: str, *, decimals: int, not_a_number: str, not_positive: str, too_precise: str
) -> int:
    """A positive number as typed -> integer units of 10^-``decimals``, exactly.

    The one parser of typed amounts (tokens here, kWh and prices in trading.forms):
    Decimal, never float, so "0.1" token is exactly 100,000 units. Raises
    ValidationError with the message to show beside the field.
    """
    text = typed_number(text)
    if text.startswith("-"):
        raise forms.ValidationError(not_positive)
    if not DECIMAL_RE.fullmatch(text):
        raise forms.ValidationError(not_a_number)
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise forms.ValidationError(not_a_number) from exc
    if value <= 0:
        raise forms.ValidationError(not_positive)
    units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise forms.ValidationError(too_precise)
    return int(units)


def parse_token_amount(text: str) -> int:
    """``text`` in tokens -> integer units, exactly; raises ValidationError with a message to show."""
    units = parse_decimal_units(
        text,
        decimals=TOKEN_DECIMALS,
        not_a_number=gettext(AMOUNT_NOT_A_NUMBER),
        not_positive=gettext(AMOUNT_NOT_POSITIVE),
        too_precise=gettext(AMOUNT_TOO_PRECISE),
    )
    if units > MAX_SAFE_INTEGER:
        raise forms.ValidationError(gettext(AMOUNT_TOO_LARGE))
    return units


class TokenAmountField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)  # required and length checks on the text as typed
        return parse_token_amount(text) if text not in self.empty_values else None


class WalletForm(forms.Form):
    """A form acting for ``wallet``, whose limits come from ``balances`` (selectors.wallet_balances)."""

    kind: str
    #: The entry of ``balances`` that caps the amount, and what to say when it is over:
    #: the message's placeholder has the same name.
    amount_limit = "available"
    amount_over_limit = AMOUNT_OVER_AVAILABLE

    def __init__(self, *args, wallet, balances: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.wallet = wallet
        self.balances = balances

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        limit = self.balances[self.amount_limit]
        if amount > limit:
            raise forms.ValidationError(
                gettext(self.amount_over_limit).format(**{self.amount_limit: tokens_text(limit)})
            )
        return amount

    def payload(self) -> dict:
        return {"amount": self.cleaned_data["amount"]}


class SendTokensForm(WalletForm):
    kind = "transfer"
    title = _("Send tokens")
    submit_label = _("Sign and send")

    recipient = forms.CharField(
        label=_("Recipient address"),
        max_length=80,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": _("64 hex characters")}
        ),
    )
    amount = TokenAmountField(label=_("Amount (tokens)"))
    memo = forms.CharField(label=_("Memo (optional)"), max_length=MEMO_MAX, required=False)

    def clean_recipient(self) -> str:
        address = self.cleaned_data["recipient"].strip().lower()
        if not is_address(address):
            raise forms.ValidationError(gettext(ADDRESS_MALFORMED))
        if address == self.wallet.address:
            raise forms.ValidationError(gettext(ADDRESS_SELF))
        if not selectors.account_known(address=address):
            raise forms.ValidationError(gettext(ADDRESS_UNKNOWN))
        return address

    def payload(self) -> dict:
        payload = {"to": self.cleaned_data["recipient"], "amount": self.cleaned_data["amount"]}
        if self.cleaned_data.get("memo"):
            payload["memo"] = self.cleaned_data["memo"]
        return payload


class StakeBondForm(WalletForm):
    kind = "stake_bond"
    title = _("Bond stake")
    submit_label = _("Bond")

    amount = TokenAmountField(label=_("Amount to bond (tokens)"))


class StakeUnbondForm(WalletForm):
    kind = "stake_unbond"
    title = _("Unbond stake")
    submit_label = _("Unbond")
    amount_limit = "unbondable"
    amount_over_limit = AMOUNT_OVER_STAKED

    amount = TokenAmountField(label=_("Amount to unbond (tokens)"))


WALLET_FORMS = {form.kind: form for form in (SendTokensForm, StakeBondForm, StakeUnbondForm)}


class SignupForm(UserCreationForm):
    role = forms.ChoiceField(
        choices=[(role.value, role.label) for role in SIGNUP_ROLES],
        widget=forms.RadioSelect,
        help_text=_("Producers sell energy they generate; consumers buy it."),
    )
    region = forms.ChoiceField(
        label=_("Region"), help_text=_("Where your meter is: it decides your grid zone and utility.")
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [
            (r["id"], f"{r['name']} ({r['utility']})") for r in selectors.chain_regions()
        ]


def too_many_attempts_error(exc: TooManyAttempts) -> forms.ValidationError:
    """The refusal in words, with when to try again; the view answers it with 429."""
    minutes = (exc.wait_seconds + 59) // 60
    wait = (
        f"{exc.wait_seconds} second{'' if exc.wait_seconds == 1 else 's'}"
        if exc.wait_seconds < 120
        else f"{minutes} minutes"
    )
    error = forms.ValidationError(TOO_MANY_ATTEMPTS[exc.reason].format(wait=wait), code="too_many_attempts")
    error.retry_after_seconds = exc.wait_seconds
    return error


class ThrottledLoginMixin:
    """Checks a password only within the client network's failed-login budget and the site's
    password-hash places (chain.services.accounts); counts each failure against the network."""

    def clean(self):
        try:
            login_admit(ip=client_ip(self.request))
            with password_hash_slot():
                return super().clean()
        except TooManyAttempts as exc:
            raise too_many_attempts_error(exc) from None

    def get_invalid_login_error(self):
        login_failure_record(ip=client_ip(self.request))
        return super().get_invalid_login_error()


class ThrottledLoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class KeyBackupExportForm(forms.Form):
    """Your password again, and a passphrase that will protect the backup file."""

    password = forms.CharField(label=_("Your password"), strip=False, widget=forms.PasswordInput)
    passphrase = forms.CharField(
        label=_("Backup passphrase"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("12 characters or more. Without it the file cannot be opened: nobody can recover it."),
    )
    passphrase_again = forms.CharField(
        label=_("Passphrase again"), strip=False, max_length=1024, widget=forms.PasswordInput
    )

    def clean(self):
        data = super().clean()
        if data.get("passphrase") and data.get("passphrase") != data.get("passphrase_again"):
            self.add_error("passphrase_again", gettext("The two passphrases differ."))
        return data


class KeyBackupImportForm(forms.Form):
    """A backup file, its passphrase, and your password here."""

    backup = forms.FileField(label=_("Backup file (.json)"))
    passphrase = forms.CharField(
        label=_("Backup passphrase"), strip=False, max_length=1024, widget=forms.PasswordInput
    )
    password = forms.CharField(label=_("Your password on this site"), strip=False, widget=forms.PasswordInput)


class SelfCustodySignupForm(SignupForm):
    """Sign-up whose wallet key the browser made: its address and a signature of the link message."""

    address = forms.CharField(widget=forms.HiddenInput, max_length=64)
    signature = forms.CharField(widget=forms.HiddenInput, max_length=128)
    storage = forms.ChoiceField(
        label=_("Keep the key in"),
        choices=[("indexeddb", _("This browser's IndexedDB")), ("local", _("This browser's localStorage"))],
        initial="indexeddb",
        widget=forms.RadioSelect,
        help_text=_(
            "Either way it stays on this device only. Save a key file too: clearing site data deletes it."
        ),
    )

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        if not is_address(address):
            raise forms.ValidationError(
                gettext("Your browser did not make a key. Allow JavaScript and reload the page.")
            )
        return address
