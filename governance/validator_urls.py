"""/validators/: the validator set, staff's authority actions and their audit trail."""

from django.urls import path

from governance.views import validators

urlpatterns = [
    path("", validators.validator_list, name="validators"),
    path("audit/", validators.validator_audit, name="validators-audit"),
    path("register/", validators.validator_register, name="validators-register"),
    path("register/check/", validators.validator_register_check, name="validators-check"),
    path("stake/", validators.validator_stake, name="validators-stake"),
    path("mining/", validators.validator_mining, name="validators-mining"),
    path("<str:public_key>/active/", validators.validator_set_active, name="validators-active"),
    path("<str:public_key>/unjail/", validators.validator_unjail, name="validators-unjail"),
]
