"""Sign-up and login, within the limits on password guessing (chain.services.accounts)."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from chain.client_address import client_ip
from chain.forms import SignupForm, ThrottledLoginForm, too_many_attempts_error
from chain.services.accounts import TooManyAttempts, UsernameTaken, signup_admit, user_signup


def _too_many(response, form):
    """429 with Retry-After when the form was refused for too many attempts."""
    for error in form.non_field_errors().as_data():
        if error.code == "too_many_attempts":
            response.status_code = 429
            response["Retry-After"] = str(error.retry_after_seconds)
    return response


def signup(request):
    if request.user.is_authenticated:
        return redirect("wallet")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signup_admit(ip=client_ip(request))
            wallet = user_signup(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                role=form.cleaned_data["role"],
                region=form.cleaned_data["region"],
            )
        except TooManyAttempts as exc:
            form.add_error(None, too_many_attempts_error(exc))
        except UsernameTaken:
            form.add_error("username", "A user with that username already exists.")
        else:
            login(request, wallet.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                gettext("Welcome! Your wallet is ready. Its key is sealed on this site and never shown."),
            )
            return redirect("wallet")
    return _too_many(render(request, "registration/signup.html", {"form": form}), form)


class ThrottledLoginView(LoginView):
    form_class = ThrottledLoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        return _too_many(super().form_invalid(form), form)
