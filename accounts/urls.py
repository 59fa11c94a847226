"""URLs of the account pages, and the old admin address of the trail."""

from django.urls import path, re_path

from accounts import views

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/activity/", views.activity, name="account-activity"),
    # Staff bookmarks of the trail from when it was part of keys; portal includes these before the admin.
    re_path(r"^admin/keys/auditevent/(?P<rest>.*)$", views.audit_admin_moved),
]
