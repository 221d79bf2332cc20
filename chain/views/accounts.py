"""Sign-up and a login that locks a username out after repeated failures from one address."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render

from chain.forms import SignupForm, ThrottledLoginForm, client_ip
from chain.services.accounts import login_failure_record, login_failures_clear, user_signup


def signup(request):
    if request.user.is_authenticated:
        return redirect("wallet")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wallet = user_signup(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            role=form.cleaned_data["role"],
            region=form.cleaned_data["region"],
        )
        login(request, wallet.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, "Welcome! Your wallet is ready. Its key is sealed on this site and never shown."
        )
        return redirect("wallet")
    return render(request, "registration/signup.html", {"form": form})


class ThrottledLoginView(LoginView):
    form_class = ThrottledLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        login_failures_clear(username=form.get_user().get_username(), ip=client_ip(self.request))
        return super().form_valid(form)

    def form_invalid(self, form):
        username = form.data.get("username", "")
        locked = any(e.code == "locked" for e in form.non_field_errors().as_data())
        if username and not locked:
            login_failure_record(username=username, ip=client_ip(self.request))
        return super().form_invalid(form)
