"""The grid operator's path limit form: which path, from which slot, congested or how many MW."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from trading.templatetags.market_units import ms_datetime

ACTIONS = (
    ("congested", _("Congested: no cross-zone trades")),
    ("capacity", _("Lower the capacity")),
    ("lift", _("Lift the limit: nominal capacity")),
)


class PathLimitForm(forms.Form):
    path = forms.ChoiceField(label=_("Path"))
    from_slot = forms.TypedChoiceField(label=_("From delivery slot"), coerce=int)
    until_slot = forms.TypedChoiceField(
        label=_("Until (excluded)"), coerce=int, required=False, empty_value=0
    )
    action = forms.ChoiceField(
        label=pgettext_lazy("path", "Limit"), choices=ACTIONS, widget=forms.RadioSelect, initial="congested"
    )
    capacity_mw = forms.IntegerField(label=_("Capacity (MW)"), min_value=0, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=140, required=False)

    def __init__(self, *args, paths: list[dict], slots: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.paths = {p["path_id"]: p for p in paths}
        self.fields["path"].choices = [
            (p["path_id"], f"{p['zone_from']} – {p['zone_to']} ({p['nominal_capacity_mw']:,} MW)")
            for p in paths
        ]
        slot_choices = [(s, timezone.localtime(ms_datetime(s)).strftime("%d %b %H:%M")) for s in slots]
        self.fields["from_slot"].choices = slot_choices
        self.fields["until_slot"].choices = [("", _("No end")), *slot_choices[1:]]

    def clean(self):
        data = super().clean()
        path = self.paths.get(data.get("path"))
        if data.get("action") == "capacity":
            capacity = data.get("capacity_mw")
            if capacity is None:
                self.add_error("capacity_mw", gettext("Say the capacity in MW."))
            elif path is not None and capacity > path["nominal_capacity_mw"]:
                self.add_error(
                    "capacity_mw",
                    gettext("At most the nominal {capacity} MW.").format(
                        capacity=f"{path['nominal_capacity_mw']:,}"
                    ),
                )
        until = data.get("until_slot") or 0
        if until and data.get("from_slot") and until <= data["from_slot"]:
            self.add_error("until_slot", gettext("Must be after the first slot."))
        return data

    def limit_kwargs(self) -> dict:
        data = self.cleaned_data
        zone_a, zone_b = data["path"].split(":")
        action = data["action"]
        return {
            "zone_a": zone_a,
            "zone_b": zone_b,
            "from_slot": data["from_slot"],
            "until_slot": data.get("until_slot") or 0,
            "congested": action == "congested",
            "capacity_mw": data.get("capacity_mw") if action == "capacity" else None,
            "reason": data.get("reason", ""),
        }
