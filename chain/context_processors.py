from chain.views.access import may_transact, reads_everything, user_role


def site(request):
    """What every page's layout needs: the user's role and what it may do."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {
            "current_role": None,
            "reads_everything": False,
            "may_transact": False,
        }
    return {
        "current_role": user_role(user),
        "reads_everything": reads_everything(user),
        "may_transact": may_transact(user),
    }
