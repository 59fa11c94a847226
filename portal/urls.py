"""Top-level URLs. /v1 and /query never reach these: portal.asgi hands them to the gateway."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway import overview
from portal import views

# Staff log in through allauth: its rate limits and two-factor apply to the admin too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = gettext_lazy("Tollgate administration")
admin.site.site_title = gettext_lazy("Tollgate admin")

handler500 = "portal.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("i18n/setlang/", views.language_switch, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/usage/", overview.usage_overview, name="admin-usage"),
    path("admin/usage/refusals.csv", overview.refusals_csv, name="admin-usage-refusals"),
    path("admin/", admin.site.urls),
    path("", include("keys.urls")),
    path("", include("teams.urls")),
    path("", include("usage.urls")),
    path("", include("requestlog.urls")),
    path("", include("webhooks.urls")),
    path("", include("chat.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
