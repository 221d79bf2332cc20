"""The staff form that registers a meter (signed with this site's node key)."""

from django import forms

from chain.ledger.keys import is_address
from chain.models import Wallet
from meters.ledger.kinds import MAX_RATED_CAPACITY_W
from meters.models import MeterKind


class MeterRegisterForm(forms.Form):
    meter = forms.CharField(
        label="Meter public key",
        max_length=64,
        help_text="64 hex characters: the ed25519 key the meter signs its readings with.",
    )
    owner = forms.CharField(
        label="Owner", max_length=150, help_text="A username on this site, or an address."
    )
    region = forms.ChoiceField(label="Region")
    kind = forms.ChoiceField(label="Kind", choices=MeterKind.choices)
    rated_capacity_w = forms.IntegerField(
        label="Rated capacity (W)",
        min_value=1,
        max_value=MAX_RATED_CAPACITY_W,
        help_text="Whole watts, e.g. 5000.",
    )

    def __init__(self, *args, regions: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r["id"], f"{r['name']} ({r.get('utility', '')})") for r in regions]

    def clean_meter(self) -> str:
        meter = self.cleaned_data["meter"].strip().lower()
        if not is_address(meter):
            raise forms.ValidationError("A meter key is 64 lowercase hex characters.")
        return meter

    def clean_owner(self) -> str:
        """The owner's address: a username of this site, or an address as it is."""
        owner = self.cleaned_data["owner"].strip()
        if is_address(owner.lower()):
            return owner.lower()
        address = Wallet.objects.filter(user__username=owner).values_list("address", flat=True).first()
        if address is None:
            raise forms.ValidationError("No user with this name has a wallet; give a username or an address.")
        return address
