"""Pages of the console shell: API tokens, theme, error pages (the dashboard is in
console/dashboard_views.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from console.models import ApiToken, Theme, UserPreference
from console.roles import Role, request_user, role_required
from console.tokens import issue_token


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name", max_length=100,
        help_text="What the token is for, e.g. 'nightly script'. You see it only once.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "nightly script"}))


@role_required(Role.VIEWER)
def tokens(request: HttpRequest) -> HttpResponse:
    new_token = None
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            new_token = issue_token(request_user(request), form.cleaned_data["name"])
            form = TokenForm()
    else:
        form = TokenForm()
    return render(
        request,
        "console/tokens.html",
        {
            "form": form,
            "new_token": new_token,
            "tokens": ApiToken.objects.filter(user=request_user(request)),
        },
    )


@require_POST
@role_required(Role.VIEWER)
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request_user(request))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        messages.success(request, f"Token {token} revoked.")
    return redirect("tokens")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


@require_POST
@login_required
def set_theme(request: HttpRequest) -> HttpResponse:
    """Remember the user's theme (auto follows the browser's prefers-color-scheme)."""
    choice = request.POST.get("theme", "")
    if choice not in Theme.values:
        known = ", ".join(Theme.values)
        messages.error(request, f"Unknown theme {choice!r}: choose one of {known}.")
    else:
        UserPreference.objects.update_or_create(
            user=request_user(request), defaults={"theme": choice})
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    return redirect(target)
