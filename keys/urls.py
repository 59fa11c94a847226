"""URLs of the keys page, the seed's API and the keys REST API."""

from django.urls import path

from keys import api, views

urlpatterns = [
    path("keys/", views.keys_page, name="keys"),
    path("keys/generate", views.key_generate, name="key-generate"),
    path("keys/<int:pk>/revoke", views.key_revoke, name="key-revoke"),
    path("keys/<int:pk>/rotate", views.key_rotate, name="key-rotate"),
    path("keys/<int:pk>/switch", views.key_switch, name="key-switch"),
    path("keys/<int:pk>/scopes", views.key_scopes, name="key-scopes"),
    path("plan", api.SeedPlanList.as_view(), name="seed-plan"),
    path("create_key", api.SeedCreateKey.as_view(), name="seed-create-key"),
    path("api/v1/plans/", api.PlanList.as_view(), name="api-plans"),
    path("api/v1/keys/", api.KeyListCreate.as_view(), name="api-keys"),
    path("api/v1/keys/<int:pk>/", api.KeyDetail.as_view(), name="api-key"),
    path("api/v1/keys/<int:pk>/revoke/", api.KeyRevoke.as_view(), name="api-key-revoke"),
    path("api/v1/keys/<int:pk>/rotate/", api.KeyRotate.as_view(), name="api-key-rotate"),
    path("api/v1/keys/<int:pk>/switch/", api.KeySwitch.as_view(), name="api-key-switch"),
]
