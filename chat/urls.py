"""URLs of the chat page."""

from django.urls import path

from chat import views

urlpatterns = [
    path("chat/", views.chat_page, name="chat"),
    path("chat/<int:pk>/rename", views.conversation_rename, name="conversation-rename"),
    path("chat/<int:pk>/delete", views.conversation_delete, name="conversation-delete"),
]
