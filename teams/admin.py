"""Teams in the admin: members and invitations inline; a token's hash is never shown."""

from django.contrib import admin

from teams.models import Invitation, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ["email", "role", "created_at", "expires_at", "accepted_at", "cancelled_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # invitations are sent from the team page, which mails the link


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "email_domain", "created_at"]
    search_fields = ["name", "email_domain"]
    inlines = [MembershipInline, InvitationInline]
