"""URLs of the request log page, its CSV and its API."""

from django.urls import path

from requestlog import api, views

urlpatterns = [
    path("usage/requests/", views.requests_page, name="usage-requests"),
    path("usage/requests.csv", views.requests_csv, name="usage-requests-csv"),
    path("api/v1/requests/", api.RequestList.as_view(), name="api-requests"),
]
