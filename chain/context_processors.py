from chain.views.access import may_transact, reads_everything, user_role


def site(request):
    """What every page's layout needs: the user's wallet and role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {
            "current_wallet": None,
            "current_role": None,
            "reads_everything": False,
            "may_transact": False,
        }
    return {
        "current_wallet": getattr(user, "wallet", None),
        "current_role": user_role(user),
        "reads_everything": reads_everything(user),
        "may_transact": may_transact(user),
    }
