"""The holder's certificate forms: transfer part of one, claim several for a beneficiary.

The forms check shape and what the holder's page knows (held Wh); the ledger decides,
and its refusal is shown beside the field it names (services.FIELD_OF_CODE).
"""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from chain.ledger.keys import is_address
from settlement.ledger.certificates import BENEFICIARY_MAX, MAX_CLAIMS


def certificate_label(certificate) -> str:
    return (
        f"{certificate.wh:,} Wh {certificate.source}, {certificate.zone} · {certificate.certificate_id[:12]}…"
    )


class CertificateTransferForm(forms.Form):
    certificate_id = forms.ChoiceField(label=_("Certificate"))
    to = forms.CharField(
        label=_("Recipient address"),
        max_length=80,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": _("64 hex characters")}
        ),
    )
    wh = forms.IntegerField(
        label=_("Wh to transfer"), min_value=1, help_text=_("All of it, or part: the rest stays yours.")
    )

    def __init__(self, *args, held: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.held = {c.certificate_id: c for c in held}
        self.fields["certificate_id"].choices = [(c.certificate_id, certificate_label(c)) for c in held]

    def clean(self) -> dict:
        data = super().clean()
        certificate, wh = self.held.get(data.get("certificate_id")), data.get("wh")
        if certificate is not None and wh is not None and wh > certificate.wh:
            self.add_error(
                "wh",
                gettext("The certificate holds {held} Wh, less than {wh}.").format(
                    held=f"{certificate.wh:,}", wh=f"{wh:,}"
                ),
            )
        return data

    def clean_to(self) -> str:
        value = self.cleaned_data["to"].strip().lower()
        if not is_address(value):
            raise forms.ValidationError(gettext("An address is 64 hex characters (0-9, a-f)."))
        return value

    def payload(self) -> dict:
        return {key: self.cleaned_data[key] for key in ("certificate_id", "to", "wh")}


class CertificateClaimForm(forms.Form):
    """Claims the whole of each chosen certificate; the ledger takes part claims too (PROTOCOL.md)."""

    certificate_ids = forms.MultipleChoiceField(
        label=_("Certificates to claim"), widget=forms.CheckboxSelectMultiple
    )
    beneficiary = forms.CharField(
        label=_("Claimed for (beneficiary)"),
        max_length=BENEFICIARY_MAX,
        help_text=_(
            "The person or organisation whose renewable use this claim counts for. A claim is final."
        ),
    )

    def __init__(self, *args, held: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.held = {c.certificate_id: c for c in held}
        self.fields["certificate_ids"].choices = [(c.certificate_id, certificate_label(c)) for c in held]

    def clean_certificate_ids(self) -> list:
        ids = self.cleaned_data["certificate_ids"]
        if len(ids) > MAX_CLAIMS:
            raise forms.ValidationError(
                gettext("Claim at most {count} certificates at once.").format(count=MAX_CLAIMS)
            )
        return ids

    def payload(self) -> dict:
        claims = [{"certificate_id": i, "wh": self.held[i].wh} for i in self.cleaned_data["certificate_ids"]]
        return {"claims": claims, "beneficiary": self.cleaned_data["beneficiary"]}
