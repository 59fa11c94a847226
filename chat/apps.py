"""App config for the LLM upstream, the /v1 gateway and the chat page."""

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"
