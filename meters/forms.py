"""The staff form that registers a meter (signed with this site's node key), and a producer's request."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from nacl.bindings import crypto_core_ed25519_is_valid_point

from chain.ledger.keys import is_address
from chain.models import Wallet
from meters.ledger.kinds import MAX_RATED_CAPACITY_W
from meters.models import MeterKind


class MeterRegisterForm(forms.Form):
    meter = forms.CharField(
        label=_("Meter public key"),
        max_length=64,
        help_text=_("64 hex characters: the ed25519 key the meter signs its readings with."),
    )
    owner = forms.CharField(
        label=_("Owner"), max_length=150, help_text=_("A username on this site, or an address.")
    )
    region = forms.ChoiceField(label=_("Region"))
    kind = forms.ChoiceField(label=_("Kind"), choices=MeterKind.choices)
    rated_capacity_w = forms.IntegerField(
        label=_("Rated capacity (W)"),
        min_value=1,
        max_value=MAX_RATED_CAPACITY_W,
        help_text=_("Whole watts, e.g. 5000."),
    )

    def __init__(self, *args, regions: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r["id"], f"{r['name']} ({r.get('utility', '')})") for r in regions]

    def clean_meter(self) -> str:
        meter = self.cleaned_data["meter"].strip().lower()
        if not is_address(meter):
            raise forms.ValidationError(gettext("A meter key is 64 lowercase hex characters."))
        return meter

    def clean_owner(self) -> str:
        """The owner's address: a username of this site, or an address as it is."""
        owner = self.cleaned_data["owner"].strip()
        if is_address(owner.lower()):
            return owner.lower()
        address = Wallet.objects.filter(user__username=owner).values_list("address", flat=True).first()
        if address is None:
            raise forms.ValidationError(
                gettext("No user with this name has a wallet; give a username or an address.")
            )
        return address


class MeterRequestForm(forms.Form):
    """A producer's request: the meter's key, kind, rated capacity and region (owner: themselves)."""

    device_key = forms.CharField(
        label=_("Meter public key"),
        min_length=64,
        max_length=64,
        help_text=_(
            "64 lowercase hex characters: the ed25519 key your meter signs its readings with "
            "(on its label or in its app)."
        ),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=MeterKind.choices)
    rated_capacity_w = forms.IntegerField(
        label=_("Rated capacity (W)"),
        min_value=1,
        max_value=MAX_RATED_CAPACITY_W,
        help_text=_("Whole watts, as on the inverter or turbine plate, e.g. 5000."),
    )
    region = forms.ChoiceField(label=_("Region"))

    def __init__(self, *args, regions: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r["id"], f"{r['name']} ({r.get('utility', '')})") for r in regions]

    def clean_device_key(self) -> str:
        """Exactly what meter_register takes, and a point of the curve: any other key could never sign."""
        key = self.cleaned_data["device_key"]
        if not is_address(key) or not crypto_core_ed25519_is_valid_point(bytes.fromhex(key)):
            raise forms.ValidationError(
                gettext("A meter key is an ed25519 public key: 64 lowercase hex characters.")
            )
        return key
