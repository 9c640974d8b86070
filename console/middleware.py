"""Login enforcement for every page.

Django's LoginRequiredMiddleware redirects anonymous visitors to the login page. The REST API
under /api/ authenticates each call itself (session or bearer token) and answers 401 instead
of redirecting, so it is left to django-ninja.
"""

from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponseBase


class ConsoleLoginRequiredMiddleware(LoginRequiredMiddleware):
    api_prefix = "/api/"

    def process_view(
        self,
        request: HttpRequest,
        view_func: Any,
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponseBase | None:
        if request.path_info.startswith(self.api_prefix):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
