from django.urls import path

from webhooks import views

urlpatterns = [
    path("account/webhooks/", views.webhooks, name="webhooks"),
    path("account/webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook-delete"),
]
