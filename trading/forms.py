"""The order ticket: what a person typed, parsed into exact integer units or refused in words.

Energy is typed in kWh with at most 3 decimals (1 Wh is 0.001 kWh) and the
limit price in tokens per kWh with at most 6 decimals (the smallest unit), both
parsed with Decimal, never float. These checks mirror the ledger's so that the
person reads what is wrong beside the field; trading.services checks again
against the mempool, and the block decides.
"""

import re
import time
from datetime import UTC, datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from chain import selectors as chain_selectors
from chain.forms import parse_decimal_units
from chain.ledger.errors import Refused
from chain.ledger.fields import is_hex64, whole_number
from chain.models import Role
from chain.refusals import refusal_text
from chain.units import TOKEN_DECIMALS, kwh_text, tokens_text
from trading.ledger import rules as r

KWH_DECIMALS = 3
PRICE_DECIMALS = TOKEN_DECIMALS  # a price is token units per kWh

# Messages people read; tests import them. Marked for the catalog here, translated when raised
# (gettext), so the constants stay the English text.
ENERGY_NOT_A_NUMBER = gettext_noop("Enter the energy in kWh, such as 25 or 2.5.")
ENERGY_NOT_POSITIVE = gettext_noop("The energy must be more than zero.")
ENERGY_TOO_PRECISE = gettext_noop("Use at most 3 decimal places (the smallest amount is 0.001 kWh, one Wh).")
ENERGY_TOO_LARGE = gettext_noop("The largest order is {max_kwh} kWh.")
ENERGY_OVER_AVAILABLE = gettext_noop("You have {available} kWh free to sell.")
PRICE_NOT_A_NUMBER = gettext_noop("Enter the price in tokens per kWh, such as 3.5.")
PRICE_TOO_PRECISE = gettext_noop("Use at most 6 decimal places (the smallest unit is 0.000001 token).")
PRICE_OUT_OF_RANGE = gettext_noop("The market takes prices from {low} to {high} tokens per kWh.")
FUNDS_SHORT = gettext_noop(
    "This buy locks {lock} tokens (energy at your limit plus the dearest wheeling fee from this zone); "
    "you have {available} free."
)
SLOT_MALFORMED = gettext_noop("Choose a delivery slot from the list.")
SLOT_CLOSED = gettext_noop(
    "This slot's gate has closed ({minutes} minutes before it starts). Choose a later slot."
)
SLOT_TOO_FAR = gettext_noop("Orders can be placed at most {minutes} minutes ahead.")
ZONE_UNKNOWN = gettext_noop("Choose a zone from the list: the regions of the grid.")
SIDE_NOT_YOURS = gettext_noop("Only producers sell energy here; your account can buy.")
SOURCE_REQUIRED = gettext_noop("Say which source the energy you sell comes from.")
EXPIRY_RANGE = gettext_noop("Give the expiry in whole minutes, from 1 to {minutes}.")
SLOT_PICK = gettext_noop("Pick a delivery time on a {minutes}-minute mark between {first} and {last}.")
COUNTERPARTY_UNKNOWN = gettext_noop(
    "Give an address (64 characters, 0-9 and a-f) or the username of someone on this site;"
    " no user here has that name."
)
COUNTERPARTY_NO_ACCOUNT = gettext_noop(
    "No account on this chain has that address yet. Check it with the other party."
)
COUNTERPARTY_SELF = gettext_noop(
    "That is your own account: name the account you agreed the deal with, or leave this empty."
)
NIGHT_SOLAR = gettext_noop(
    "This slot is at night, when solar panels make nothing: energy you cannot deliver is"
    " refunded to the buyer at settlement and earns you nothing."
)

#: Hours of a Thai day (site time) in which a solar panel can export: outside them a solar sale is
#: warned about. Thailand's sunrise is between about 05:50 and 06:45, its sunset 17:45 to 18:50.
SOLAR_HOURS = range(6, 19)
#: A delivery time typed in the slot picker: a date and a time, as <input type="datetime-local"> sends it.
PICKED_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})")


def picked_slot(text: str, rules: r.MarketRules, now_ms: int) -> int:
    """The slot (Unix ms) a person picked as a site-time date and time; ValueError in words when it is
    malformed, not on a slot's start, closed or beyond the horizon."""
    first, last = rules.first_open_slot_ms(now_ms), now_ms + rules.horizon_ms
    last -= last % rules.slot_ms
    problem = gettext(SLOT_PICK).format(
        minutes=rules.slot_ms // r.MS_PER_MINUTE,
        first=_site_time(first).strftime("%d %b %H:%M"),
        last=_site_time(last).strftime("%d %b %H:%M"),
    )
    match = PICKED_TIME.fullmatch(text)
    if match is None:
        raise ValueError(problem)
    try:
        picked = datetime(*map(int, match.groups()), tzinfo=timezone.get_current_timezone())
    except ValueError:
        raise ValueError(problem) from None
    slot = int(picked.timestamp()) * 1000
    if slot % rules.slot_ms or not first <= slot <= last:
        raise ValueError(problem)
    return slot


def _site_time(ms: int) -> datetime:
    return timezone.localtime(datetime.fromtimestamp(ms / 1000, tz=UTC))


def at_night(slot_ms: int, slot_length_ms: int) -> bool:
    """Whether no part of the slot falls in SOLAR_HOURS, in site time."""
    start, end = _site_time(slot_ms), _site_time(slot_ms + slot_length_ms - 1)
    return start.hour not in SOLAR_HOURS and end.hour not in SOLAR_HOURS


def parse_kwh(text: str) -> int:
    """kWh as typed -> Wh, exactly."""
    return parse_decimal_units(
        text,
        decimals=KWH_DECIMALS,
        not_a_number=gettext(ENERGY_NOT_A_NUMBER),
        not_positive=gettext(ENERGY_NOT_POSITIVE),
        too_precise=gettext(ENERGY_TOO_PRECISE),
    )


def parse_price(text: str) -> int:
    """Tokens per kWh as typed -> units per kWh, exactly."""
    return parse_decimal_units(
        text,
        decimals=PRICE_DECIMALS,
        not_a_number=gettext(PRICE_NOT_A_NUMBER),
        not_positive=gettext(PRICE_NOT_A_NUMBER),
        too_precise=gettext(PRICE_TOO_PRECISE),
    )


def sides_for(role: str | None) -> list[str]:
    """Producers sell and may buy; everyone else who trades buys."""
    return [r.SELL, r.BUY] if role == Role.PRODUCER else [r.BUY]


#: The sources' names as people read them, in the order of the ledger's SOURCES.
SOURCE_LABELS = {
    "solar": _("Solar"),
    "wind": _("Wind"),
    "hydro": _("Hydro"),
    "biomass": _("Biomass"),
    "grid": pgettext_lazy("energy source", "Grid"),
}
assert tuple(SOURCE_LABELS) == r.SOURCES


def _decimal_input(placeholder: str) -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": placeholder})


def order_energy_wh(text: str, rules: r.MarketRules) -> int:
    """kWh as a person typed them, as Wh an order may hold; ValidationError in words."""
    energy_wh = parse_kwh(text)
    if energy_wh > rules.max_order_wh:
        raise forms.ValidationError(gettext(ENERGY_TOO_LARGE).format(max_kwh=kwh_text(rules.max_order_wh)))
    return energy_wh


def order_price(text: str, rules: r.MarketRules) -> int:
    """Tokens per kWh as a person typed them, as units per kWh the market takes."""
    price = parse_price(text)
    if not rules.min_price_per_kwh <= price <= rules.max_price_per_kwh:
        raise forms.ValidationError(
            gettext(PRICE_OUT_OF_RANGE).format(
                low=tokens_text(rules.min_price_per_kwh), high=tokens_text(rules.max_price_per_kwh)
            )
        )
    return price


def counterparty_of(typed: str, wallet) -> tuple[str, str]:
    """(address, username or "") of the other party a person typed: an address in any case, or
    a username of this site. ValidationError when it names no account, or the person's own."""
    if is_hex64(typed.lower()):
        address, name = typed.lower(), ""
        if not chain_selectors.account_known(address=address):
            raise forms.ValidationError(gettext(COUNTERPARTY_NO_ACCOUNT))
    else:
        named = chain_selectors.wallet_for_username(username=typed)
        if named is None:
            raise forms.ValidationError(gettext(COUNTERPARTY_UNKNOWN))
        address, name = named.address, typed
    if address == wallet.address:
        raise forms.ValidationError(gettext(COUNTERPARTY_SELF))
    return address, name


class OrderForm(forms.Form):
    """An order for ``wallet``; ``balances`` from chain.selectors.wallet_balances, ``rules`` the market's."""

    prefix = "order"

    side = forms.ChoiceField(
        label=_("Side"),
        choices=[(r.SELL, _("Sell energy")), (r.BUY, _("Buy energy"))],
        widget=forms.RadioSelect,
    )
    delivery_slot = forms.CharField(widget=forms.HiddenInput, max_length=20)
    zone = forms.ChoiceField(widget=forms.HiddenInput, error_messages={"invalid_choice": _(ZONE_UNKNOWN)})
    energy_kwh = forms.CharField(
        label=_("Energy (kWh)"), max_length=30, widget=_decimal_input(_("e.g. 25.5"))
    )
    price = forms.CharField(
        label=_("Limit price (tokens per kWh)"), max_length=30, widget=_decimal_input(_("e.g. 3.5"))
    )
    source = forms.ChoiceField(
        label=_("Source of the energy"),
        required=False,
        choices=list(SOURCE_LABELS.items()),
    )
    sources = forms.MultipleChoiceField(
        label=_("Accept energy from"),
        required=False,
        choices=list(SOURCE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick none to accept any source."),
    )
    expires_minutes = forms.IntegerField(
        label=_("Expires after (minutes, optional)"),
        required=False,
        widget=forms.NumberInput(
            attrs={"inputmode": "numeric", "placeholder": _("stays until the gate closes")}
        ),
    )

    counterparty = forms.CharField(
        label=_("Only with (optional)"),
        required=False,
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": _("an address or a username")}
        ),
        help_text=_("A private deal: the order trades with this account only. Empty: with anyone."),
    )

    def __init__(self, *args, wallet, balances: dict, rules: r.MarketRules, zones: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.wallet = wallet
        self.counterparty_name = ""
        self.balances = balances
        self.rules = rules
        sides = sides_for(wallet.role)
        if len(sides) == 1:
            self.fields["side"].widget = forms.HiddenInput()
        self.fields["side"].initial = sides[0]
        self.fields["zone"].choices = [(z["id"], z["name"]) for z in zones]

    def selection(self) -> tuple[int | None, str | None]:
        """The slot and zone this ticket is for, as posted or as first shown (for display)."""
        if not self.is_bound:
            return self.initial.get("delivery_slot"), self.initial.get("zone")
        slot = self.data.get(self.add_prefix("delivery_slot"), "")
        zone = self.data.get(self.add_prefix("zone"), "")
        known = zone in dict(self.fields["zone"].choices)
        return whole_number(slot, max_digits=15), (zone if known else None)

    # --- fields ---------------------------------------------------------------

    def clean_side(self) -> str:
        side = self.cleaned_data["side"]
        if side not in sides_for(self.wallet.role):
            raise forms.ValidationError(gettext(SIDE_NOT_YOURS))
        return side

    def clean_delivery_slot(self) -> int:
        slot = whole_number(self.cleaned_data["delivery_slot"])
        if slot is None or slot % self.rules.slot_ms:
            raise forms.ValidationError(gettext(SLOT_MALFORMED))
        now_ms = time.time_ns() // 1_000_000
        if slot < self.rules.first_open_slot_ms(now_ms):
            raise forms.ValidationError(
                gettext(SLOT_CLOSED).format(minutes=self.rules.gate_closure_ms // r.MS_PER_MINUTE)
            )
        if slot > now_ms + self.rules.horizon_ms:
            raise forms.ValidationError(
                gettext(SLOT_TOO_FAR).format(minutes=self.rules.horizon_ms // r.MS_PER_MINUTE)
            )
        return slot

    def clean_energy_kwh(self) -> int:
        """Typed in kWh, cleaned to Wh: ``cleaned_data["energy_kwh"]`` is an integer of Wh."""
        return order_energy_wh(self.cleaned_data["energy_kwh"], self.rules)

    def clean_price(self) -> int:
        """Typed in tokens per kWh, cleaned to units (10^-6 token) per kWh."""
        return order_price(self.cleaned_data["price"], self.rules)

    def clean_expires_minutes(self) -> int | None:
        minutes = self.cleaned_data["expires_minutes"]
        horizon = self.rules.horizon_ms // r.MS_PER_MINUTE
        if minutes is not None and not 1 <= minutes <= horizon:
            raise forms.ValidationError(gettext(EXPIRY_RANGE).format(minutes=horizon))
        return minutes

    def clean_counterparty(self) -> str | None:
        """The address of the account named, None when empty (``counterparty_of``)."""
        typed = self.cleaned_data["counterparty"].strip()
        if not typed:
            return None
        address, self.counterparty_name = counterparty_of(typed, self.wallet)
        return address

    def clean(self):
        data = super().clean()
        side, energy_wh = data.get("side"), data.get("energy_kwh")
        account = self.balances["account"]
        if side == r.SELL:
            if not data.get("source"):
                self.add_error("source", gettext(SOURCE_REQUIRED))
            if energy_wh is not None and energy_wh > account.energy_wh:
                self.add_error(
                    "energy_kwh", gettext(ENERGY_OVER_AVAILABLE).format(available=kwh_text(account.energy_wh))
                )
        elif side == r.BUY and energy_wh is not None and data.get("price") and data.get("zone"):
            lock = r.buy_lock_units(energy_wh, data["price"], self.rules.max_fee_per_kwh[data["zone"]])
            if lock > self.balances["available"]:
                self.add_error(
                    "price",
                    gettext(FUNDS_SHORT).format(
                        lock=tokens_text(lock), available=tokens_text(self.balances["available"])
                    ),
                )
        return data

    def ticket_summary(self) -> dict:
        """What signing this ticket would do, in integers: shown before the person signs.

        A buy escrows the energy at its limit plus the dearest wheeling fee from its zone
        (the fee reserve); a sell escrows its Wh. Call after ``is_valid()``.
        """
        data = self.cleaned_data
        energy_wh, price = data["energy_kwh"], data["price"]
        total = r.value_units(energy_wh, price)
        summary = {
            "side": data["side"],
            "energy_wh": energy_wh,
            "price": price,
            "total": total,
            # The name as typed, not the address behind it: who owns what is not shown before signing.
            "counterparty": data["counterparty"],
            "counterparty_name": self.counterparty_name,
        }
        if data["side"] == r.BUY:
            lock = r.buy_lock_units(energy_wh, price, self.rules.max_fee_per_kwh[data["zone"]])
            summary |= {"escrow_tokens": lock, "fee_reserve": lock - total}
        else:
            night = data["source"] == "solar" and at_night(data["delivery_slot"], self.rules.slot_ms)
            summary |= {
                "escrow_wh": energy_wh,
                "source": data["source"],
                "warning": gettext(NIGHT_SOLAR) if night else "",
            }
        return summary

    # --- for the service --------------------------------------------------------

    def order(self) -> dict:
        """Keyword arguments of trading.services.order_place (less the wallet)."""
        data = self.cleaned_data
        order = {
            "side": data["side"],
            "energy_wh": data["energy_kwh"],
            "price_per_kwh": data["price"],
            "zone": data["zone"],
            "delivery_slot": data["delivery_slot"],
        }
        if data["side"] == r.SELL:
            order["source"] = data["source"]
        else:
            order["sources"] = sorted(data["sources"]) if data["sources"] else r.ANY_SOURCE
        if data["counterparty"] is not None:
            order["counterparty"] = data["counterparty"]
        if data["expires_minutes"] is not None:
            order["expires_ms"] = time.time_ns() // 1_000_000 + data["expires_minutes"] * r.MS_PER_MINUTE
        return order

    def add_refusal(self, refusal: Refused) -> None:
        """Put a refusal of trading.services beside the field it is about."""
        field = {
            "energy_wh": "energy_kwh",
            "price_per_kwh": "price",
            "zone": "zone",
            "delivery_slot": "delivery_slot",
            "source": "source" if self.cleaned_data.get("side") == r.SELL else "sources",
            "expires_ms": "expires_minutes",
            "counterparty": "counterparty",
        }.get(refusal.field)
        self.add_error(field, refusal_text(refusal.message))


AGREEMENT_SLOTS_RANGE = gettext_noop("An agreement runs for 1 to {slots} slots (31 days).")


class AgreementForm(forms.Form):
    """A standing agreement ``wallet`` offers: the same energy at the same price every slot of a period."""

    prefix = "agreement"

    side = forms.ChoiceField(
        label=_("You"),
        choices=[(r.BUY, _("buy the energy")), (r.SELL, _("sell the energy"))],
        widget=forms.RadioSelect,
    )
    counterparty = forms.CharField(
        label=_("The other party"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": _("an address or a username")}
        ),
    )
    zone = forms.ChoiceField(label=_("Zone"))
    source = forms.ChoiceField(label=_("Source of the energy"), choices=list(SOURCE_LABELS.items()))
    energy_kwh = forms.CharField(
        label=_("Energy every slot (kWh)"), max_length=30, widget=_decimal_input(_("e.g. 25.5"))
    )
    price = forms.CharField(
        label=_("Price (tokens per kWh)"), max_length=30, widget=_decimal_input(_("e.g. 3.2"))
    )
    first_slot = forms.CharField(
        label=_("First delivery slot"),
        max_length=20,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    slots = forms.IntegerField(
        label=_("Number of slots"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "96"}),
    )

    def __init__(self, *args, wallet, rules: r.MarketRules, zones: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.wallet = wallet
        self.rules = rules
        self.counterparty_name = ""
        sides = sides_for(wallet.role)
        self.fields["side"].choices = [c for c in self.fields["side"].choices if c[0] in sides]
        self.fields["side"].initial = sides[0]
        self.fields["zone"].choices = [(z["id"], z["name"]) for z in zones]

    def clean_counterparty(self) -> str:
        address, self.counterparty_name = counterparty_of(
            self.cleaned_data["counterparty"].strip(), self.wallet
        )
        return address

    def clean_energy_kwh(self) -> int:
        return order_energy_wh(self.cleaned_data["energy_kwh"], self.rules)

    def clean_price(self) -> int:
        return order_price(self.cleaned_data["price"], self.rules)

    def clean_first_slot(self) -> int:
        try:
            return picked_slot(self.cleaned_data["first_slot"], self.rules, time.time_ns() // 1_000_000)
        except ValueError as problem:
            raise forms.ValidationError(str(problem)) from None

    def clean_slots(self) -> int:
        most = 31 * 24 * 60 // (self.rules.slot_ms // r.MS_PER_MINUTE) + 1
        slots = self.cleaned_data["slots"]
        if not 1 <= slots <= most:
            raise forms.ValidationError(gettext(AGREEMENT_SLOTS_RANGE).format(slots=most))
        return slots

    def payload(self) -> dict:
        """The agreement_offer payload of a valid form."""
        data = self.cleaned_data
        return {
            "counterparty": data["counterparty"],
            "side": data["side"],
            "zone": data["zone"],
            "source": data["source"],
            "energy_wh": data["energy_kwh"],
            "price_per_kwh": data["price"],
            "first_slot": data["first_slot"],
            "last_slot": data["first_slot"] + (data["slots"] - 1) * self.rules.slot_ms,
        }

    def add_refusal(self, refusal: Refused) -> None:
        self.add_error(refusal.field if refusal.field in self.fields else None, refusal_text(refusal.message))
