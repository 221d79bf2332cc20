"""Top-up, cash-out and the issuer's refusal: what a person typed, in integer units or words."""

from django import forms
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from chain.forms import TokenAmountField
from chain.units import tokens_text
from treasury.ledger.kinds import REASON_MAX

AMOUNT_OVER_LIMIT = gettext_noop("One payment moves at most {limit} GTX.")
AMOUNT_OVER_AVAILABLE = gettext_noop("That is more than you hold free: {available} GTX available.")


class TopUpForm(forms.Form):
    amount = TokenAmountField(
        label=_("Amount (GTX; you pay the same in baht)"), help_text=_("1 GTX is about 1 THB.")
    )

    def __init__(self, *args, max_units: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_units = max_units

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount > self.max_units:
            raise forms.ValidationError(gettext(AMOUNT_OVER_LIMIT).format(limit=tokens_text(self.max_units)))
        return amount


class CashOutForm(TopUpForm):
    amount = TokenAmountField(
        label=_("Amount to cash out (GTX)"), help_text=_("Held in escrow until the issuer pays you.")
    )

    def __init__(self, *args, available: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.available = available

    def clean_amount(self) -> int:
        amount = super().clean_amount()
        if amount > self.available:
            raise forms.ValidationError(
                gettext(AMOUNT_OVER_AVAILABLE).format(available=tokens_text(self.available))
            )
        return amount


class RefusalForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX, label=_("Reason (the person reads it)"))
