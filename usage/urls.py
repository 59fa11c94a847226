"""URLs of the usage page, its export and the usage API."""

from django.urls import path

from usage import api, views

urlpatterns = [
    path("usage/", views.usage_page, name="usage"),
    path("usage/export.csv", views.usage_export_csv, name="usage-export"),
    path("api/v1/usage/", api.UsageList.as_view(), name="api-usage"),
]
