from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import dashboard_views, views
from console.api import api

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/theme/", views.set_theme, name="set_theme"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("netjobs.urls")),
    path("", include("archive.urls")),
    path("", include("archive.deid.urls")),
    path("", include("archive.media.urls")),
    path("", include("archive.dicomweb.urls")),
]

handler403 = "console.views.permission_denied"
