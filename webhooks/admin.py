"""Staff add endpoints for everyone's events, and see every delivery."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "events", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "owner__email"]
    readonly_fields = ["secret", "created_at"]
    autocomplete_fields = ["owner"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status_code", "attempts", "duration_ms", "created_at", "delivered_at"]
    list_filter = ["event", "status_code"]
    search_fields = ["endpoint__url", "subject"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("succeeded"), boolean=True)
    def succeeded(self, delivery: WebhookDelivery) -> bool:
        return delivery.succeeded
