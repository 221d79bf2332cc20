def site(request):
    """What every page's layout needs: the user's wallet and role."""
    user = getattr(request, "user", None)
    wallet = getattr(user, "wallet", None) if user is not None and user.is_authenticated else None
    return {"current_wallet": wallet}
