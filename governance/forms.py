"""The create-proposal form and the staff's validator forms: typed text to an exact payload, or words.

Amounts in tokens are parsed with Decimal (chain.forms.parse_decimal_units), never
float. The checks are the ledger's own (governance.ledger.rules), so what a
person reads beside a field is what the block would say.
"""

from django import forms
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from chain.forms import parse_decimal_units, parse_token_amount, typed_number
from chain.ledger.errors import LedgerError, Refused
from chain.ledger.fields import whole_number
from chain.ledger.keys import is_address
from chain.refusals import refusal_text
from chain.units import TOKEN_DECIMALS, tokens_text
from governance.ledger import rules as r

# Messages people read; tests import them. Marked for the catalog here and translated when raised
# (gettext), so the constants stay the English text.
VALUE_NOT_WHOLE = gettext_noop("Enter a whole number.")
VALUE_RANGE = gettext_noop("{label} must be from {low} to {high}.")
VALUE_UNCHANGED = gettext_noop("{label} is already {value}: propose a different value.")
FEE_NOT_A_NUMBER = gettext_noop("Enter the fee in tokens per kWh, such as 0.12.")
FEE_TOO_PRECISE = f"Use at most {TOKEN_DECIMALS} decimal places."
PATH_UNKNOWN = gettext_noop("Choose a transmission path from the list.")
KEY_MALFORMED = gettext_noop("A public key is 64 characters, 0-9 and a-f.")
VALIDATOR_UNKNOWN = gettext_noop("Choose a validator from the list.")

ACTION_CHOICES = [
    (r.PARAM_CHANGE, _("Change a parameter")),
    (r.WHEELING_FEE, _("Change a wheeling fee")),
    (r.MARKET_MODE, _("Change a zone's market")),
    (r.VALIDATOR_ADD, _("Add a validator")),
    (r.VALIDATOR_REMOVE, _("Remove a validator")),
    (r.AUTHORITY, _("Change an authority flag")),
    (r.TEXT, _("Free text (signalling only)")),
]
#: What each parameter means, for people; reward_per_kwh is typed in tokens.
PARAM_LABELS = {
    "block_interval_ms": _("Block interval (ms)"),
    "pow_difficulty_bits": _("PoW difficulty (leading zero bits)"),
    "reward_per_kwh": _("Reward per renewable kWh (tokens)"),
    "gate_closure_minutes": _("Gate closure (minutes before a slot)"),
    "quorum_ppm": _("Quorum (ppm of all stake)"),
    "threshold_ppm": _("Threshold (ppm of yes+no stake)"),
    "voting_period_blocks": _("Voting period (blocks)"),
    "execution_delay_blocks": _("Execution delay (blocks)"),
    "min_proposal_stake": _("Stake to make a proposal (tokens)"),
    "tariff_flat_per_kwh": _("Utility flat residential rate (THB per kWh)"),
    "tariff_tou_peak_per_kwh": _("Utility time-of-use peak rate (THB per kWh)"),
    "tariff_tou_offpeak_per_kwh": _("Utility time-of-use off-peak rate (THB per kWh)"),
    "tariff_buyback_per_kwh": _("Rooftop solar buy-back rate (THB per kWh)"),
}
TOKEN_PARAMS = {
    "reward_per_kwh",
    "min_proposal_stake",
    "tariff_flat_per_kwh",
    "tariff_tou_peak_per_kwh",
    "tariff_tou_offpeak_per_kwh",
    "tariff_buyback_per_kwh",
}
#: The fields each action shows; the page hides the others.
ACTION_FIELDS = {
    r.PARAM_CHANGE: ["param", "value"],
    r.WHEELING_FEE: ["path", "fee"],
    r.MARKET_MODE: ["zone", "mode"],
    r.VALIDATOR_ADD: ["public_key", "name", "url", "region", "authority"],
    r.VALIDATOR_REMOVE: ["validator"],
    r.AUTHORITY: ["validator", "authority"],
    r.TEXT: [],
}


def _text(placeholder: str, **attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", "placeholder": placeholder, **attrs})


def parse_fee(text: str) -> int:
    if (text or "").strip() in ("0", "0.0", "0.00"):
        return 0
    return parse_decimal_units(
        text,
        decimals=TOKEN_DECIMALS,
        not_a_number=gettext(FEE_NOT_A_NUMBER),
        not_positive=gettext(FEE_NOT_A_NUMBER),
        too_precise=FEE_TOO_PRECISE,
    )


class ProposalForm(forms.Form):
    """A proposal under the chain's current ``params``; ``validators`` are chain.models.Validator rows."""

    prefix = "proposal"

    title = forms.CharField(
        label=_("Title"), max_length=r.TITLE_MAX, widget=_text(_("e.g. Shorter gate closure"))
    )
    description = forms.CharField(
        label=_("Why (optional)"),
        required=False,
        max_length=r.DESCRIPTION_MAX,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": _("What changes and why voters should agree")}
        ),
    )
    action = forms.ChoiceField(label=_("What it does"), choices=ACTION_CHOICES)
    param = forms.ChoiceField(label=_("Parameter"), required=False, choices=list(PARAM_LABELS.items()))
    value = forms.CharField(
        label=_("New value"), required=False, max_length=30, widget=_text(_("e.g. 10"), inputmode="decimal")
    )
    path = forms.ChoiceField(label=_("Transmission path"), required=False)
    fee = forms.CharField(
        label=_("New wheeling fee (tokens per kWh)"),
        required=False,
        max_length=30,
        widget=_text(_("e.g. 0.08"), inputmode="decimal"),
    )
    zone = forms.ChoiceField(label=_("Zone"), required=False)
    mode = forms.ChoiceField(
        label=_("Market"),
        required=False,
        choices=[
            (r.CONTINUOUS, _("Continuous: orders match as they arrive")),
            (r.CALL_AUCTION, _("Call auction: each slot clears once at gate closure, at one price")),
        ],
    )
    validator = forms.ChoiceField(label=_("Validator"), required=False)
    public_key = forms.CharField(
        label=_("Validator public key"), required=False, max_length=64, widget=_text(_("64 hex characters"))
    )
    name = forms.CharField(
        label=_("Validator name"), required=False, max_length=r.NAME_MAX, widget=_text(_("e.g. SOLARCO"))
    )
    url = forms.CharField(
        label=_("Site URL"), required=False, max_length=r.URL_MAX, widget=_text("https://node.example.org")
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    authority = forms.BooleanField(label=_("Authority (its precommit can finalise blocks)"), required=False)

    def __init__(self, *args, params: dict, validators, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = params
        self.validators = {v.public_key: v for v in validators}
        self.fields["path"].choices = [
            (
                f"{p['from']}|{p['to']}",
                f"{p['from']} – {p['to']} (now {tokens_text(p['wheeling_fee_per_kwh'])} tokens/kWh)",
            )
            for p in params.get("transmission", [])
        ]
        self.fields["validator"].choices = [
            (
                v.public_key,
                f"{v.name} ({gettext('active') if v.active else gettext('inactive')}"
                f"{gettext(', authority') if v.authority else ''})",
            )
            for v in validators
        ]
        self.fields["region"].choices = [
            (reg["id"], gettext(reg["name"])) for reg in params.get("regions", [])
        ]
        calls = params.get(r.CALL_AUCTION_ZONES, [])
        now_call, now_continuous = gettext("now call auction"), gettext("now continuous")
        self.fields["zone"].choices = [
            (reg["id"], f"{gettext(reg['name'])} ({now_call if reg['id'] in calls else now_continuous})")
            for reg in params.get("regions", [])
        ]
        self.fields["action"].widget.attrs["data-action-select"] = ""
        self.fields["param"].help_text = gettext("Now: ") + ", ".join(
            f"{name} = {params.get(name)}"
            for name in ("gate_closure_minutes", "pow_difficulty_bits", "voting_period_blocks")
        )

    def _action(self) -> str:
        return self.cleaned_data.get("action") or ""

    def clean_value(self):
        if self.data.get(self.add_prefix("action")) != r.PARAM_CHANGE:
            return None
        text = typed_number(self.cleaned_data.get("value"))
        param = self.data.get(self.add_prefix("param"), "")
        if param not in r.PARAM_LIMITS:
            return None
        label = PARAM_LABELS[param]
        if param in TOKEN_PARAMS:
            value = 0 if text in ("0", "0.0") else parse_token_amount(text)
        elif (value := whole_number(text)) is None:
            raise forms.ValidationError(gettext(VALUE_NOT_WHOLE))
        low, high = r.PARAM_LIMITS[param]
        if not low <= value <= high:
            unit = 10**TOKEN_DECIMALS if param in TOKEN_PARAMS else 1
            raise forms.ValidationError(
                gettext(VALUE_RANGE).format(label=label, low=f"{low // unit:,}", high=f"{high // unit:,}")
            )
        if value == self.params.get(param):
            raise forms.ValidationError(gettext(VALUE_UNCHANGED).format(label=label, value=text))
        return value

    def clean_fee(self):
        if self.data.get(self.add_prefix("action")) != r.WHEELING_FEE:
            return None
        return parse_fee(self.cleaned_data.get("fee") or "")

    def clean_public_key(self):
        key = (self.cleaned_data.get("public_key") or "").strip().lower()
        if self.data.get(self.add_prefix("action")) != r.VALIDATOR_ADD:
            return key
        if not is_address(key):
            raise forms.ValidationError(gettext(KEY_MALFORMED))
        current = self.validators.get(key)
        if current is not None and current.active:
            raise forms.ValidationError(
                gettext("{name} is already an active validator.").format(name=current.name)
            )
        return key

    def clean_validator(self):
        key = self.cleaned_data.get("validator") or ""
        if (
            self.data.get(self.add_prefix("action")) in (r.VALIDATOR_REMOVE, r.AUTHORITY)
            and key not in self.validators
        ):
            raise forms.ValidationError(gettext(VALIDATOR_UNKNOWN))
        return key

    def payload(self) -> dict:
        """The governance_propose payload of a valid form."""
        data, action = self.cleaned_data, self._action()
        payload = {"title": data["title"].strip(), "action": action}
        if data.get("description", "").strip():
            payload["description"] = data["description"].strip()
        if action == r.PARAM_CHANGE:
            payload.update(param=data["param"], value=data["value"])
        elif action == r.WHEELING_FEE:
            zone_a, _, zone_b = (data.get("path") or "|").partition("|")
            payload.update({"from": zone_a, "to": zone_b, "value": data["fee"]})
        elif action == r.MARKET_MODE:
            payload.update(zone=data.get("zone") or "", mode=data.get("mode") or "")
        elif action == r.VALIDATOR_ADD:
            payload.update(
                public_key=data["public_key"],
                name=data["name"].strip(),
                url=data["url"].strip(),
                region=data["region"],
                authority=data["authority"],
            )
        elif action == r.VALIDATOR_REMOVE:
            payload.update(public_key=data["validator"])
        elif action == r.AUTHORITY:
            payload.update(public_key=data["validator"], authority=data["authority"])
        return payload

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            r.check_propose_payload(self.payload(), self.params)
        except LedgerError as exc:
            self.add_error(self._field_of(exc), refusal_text(exc.message))
        return cleaned

    def _field_of(self, exc: LedgerError) -> str | None:
        action, message = self._action(), refusal_text(exc.message)
        for field in ACTION_FIELDS.get(action, []):
            if message.startswith(field) or f" {field} " in message:
                return field
        if message.startswith(("from and to", "The fee")):
            return "path"
        if action == r.PARAM_CHANGE:
            return "value"
        if action == r.WHEELING_FEE:
            return "fee"
        if action == r.MARKET_MODE:
            return "mode"
        return None

    def add_refusal(self, exc: Refused) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, refusal_text(exc.message))


class ValidatorRegisterForm(forms.Form):
    """Staff register a validator (signed by the site's node key as an authority)."""

    prefix = "register"

    public_key = forms.CharField(label=_("Public key"), max_length=64, widget=_text(_("64 hex characters")))
    name = forms.CharField(label=_("Name"), max_length=r.NAME_MAX, widget=_text(_("e.g. SOLARCO")))
    url = forms.CharField(label=_("Site URL"), max_length=r.URL_MAX, widget=_text("https://node.example.org"))
    region = forms.ChoiceField(label=_("Region"))
    authority = forms.BooleanField(label=_("Authority"), required=False)
    active = forms.BooleanField(label=_("Active at once (needs the minimum stake)"), required=False)

    def __init__(self, *args, params: dict, validators, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = params
        self.validators = {v.public_key: v for v in validators}
        self.fields["region"].choices = [
            (reg["id"], gettext(reg["name"])) for reg in params.get("regions", [])
        ]

    def clean_public_key(self):
        key = self.cleaned_data["public_key"].strip().lower()
        if not is_address(key):
            raise forms.ValidationError(gettext(KEY_MALFORMED))
        if key in self.validators:
            raise forms.ValidationError(
                gettext("{name} already has that key.").format(name=self.validators[key].name)
            )
        return key

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if any(v.name == name for v in self.validators.values()):
            raise forms.ValidationError(gettext("A validator already has that name."))
        return name

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        try:
            r.check_url(url)
        except LedgerError as exc:
            raise forms.ValidationError(
                refusal_text(exc.message.replace("url must", "The URL must"))
            ) from exc
        return url

    def payload(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("public_key", "name", "url", "region", "authority", "active")}

    def add_refusal(self, exc: Refused) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, refusal_text(exc.message))


class StakeChangeForm(forms.Form):
    """Staff bond or unbond the site's own validator stake, in tokens."""

    prefix = "stake"

    direction = forms.ChoiceField(
        label=_("Change"), choices=[("bond", _("Bond more")), ("unbond", _("Unbond"))]
    )
    amount = forms.CharField(
        label=_("Amount (tokens)"), max_length=40, widget=_text(_("e.g. 1000"), inputmode="decimal")
    )

    def __init__(self, *args, balance: int, staked: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.balance, self.staked = balance, staked

    def clean_amount(self):
        return parse_token_amount(self.cleaned_data["amount"])

    def clean(self):
        cleaned = super().clean()
        amount, direction = cleaned.get("amount"), cleaned.get("direction")
        if amount is not None and direction == "bond" and amount > self.balance:
            self.add_error(
                "amount",
                gettext("The validator's free balance is {balance} tokens.").format(
                    balance=tokens_text(self.balance)
                ),
            )
        if amount is not None and direction == "unbond" and amount > self.staked:
            self.add_error(
                "amount",
                gettext("The validator has {staked} tokens staked.").format(staked=tokens_text(self.staked)),
            )
        return cleaned
