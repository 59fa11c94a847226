from django.contrib.auth.views import LoginView
from django.urls import include, path

from testsupport.oidc_provider import views

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("login/", LoginView.as_view(template_name="oidc_provider/login.html"), name="login"),
    path("testsupport/users/", views.users),
    path("testsupport/clients/", views.clients),
    path("testsupport/authorizations/", views.authorizations),
]
