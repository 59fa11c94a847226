"""Conversations in the admin, read-only."""

from django.contrib import admin

from chat.models import Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["role", "content", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "updated_at"]
    search_fields = ["title", "owner__email"]
    readonly_fields = ["owner", "uuid", "created_at", "updated_at"]
    inlines = [MessageInline]
