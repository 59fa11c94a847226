"""The chat page, and renaming and deleting conversations."""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chat.markdown import render_markdown
from chat.models import Conversation
from gateway import calls
from keys.backends import get_backend
from keys.selectors import key_rows

CONVERSATION_ID = re.compile(r"[0-9]{1,18}")


def _conversation(request: HttpRequest, pk: int | str) -> Conversation:
    return get_object_or_404(Conversation, owner=request.user, pk=pk)


def allowed(key, model: str) -> bool:
    """The key's allow-list lets it call `model` (an empty list allows every model of its plan)."""
    return not key.allowed_models or model in key.allowed_models


@login_required
@require_GET
def chat_page(request: HttpRequest) -> HttpResponse:
    current = None
    chosen = request.GET.get("c", "")
    if chosen:
        if not CONVERSATION_ID.fullmatch(chosen):  # not isdigit(): '²' passes it and int() refuses it
            return redirect("chat")
        current = _conversation(request, chosen)
    history = []
    if current is not None:
        for message in current.messages.all():
            html = render_markdown(message.content) if message.role == "assistant" else ""
            history.append({"role": message.role, "content": message.content, "html": html, "stopped": message.stopped})
    key_in_browser = bool(get_backend().external_gateway_url())  # API Gateway admits: the browser holds the key
    rows = [row for row in key_rows(owner=request.user) if row.key.is_active]
    # With a catalogue, each key offers the models its plan grants; the page picks among them.
    models_by_key = {}
    if not key_in_browser:
        granted = calls.plan_models({row.key.plan_id for row in rows}, kind="chat")
        models_by_key = {
            row.key.pk: [name for name in granted[row.key.plan_id] if allowed(row.key, name)]
            for row in rows
            if row.key.plan_id in granted
        }
    context = {
        "rows": [(row, ",".join(models_by_key.get(row.key.pk, []))) for row in rows],
        "models": sorted({name for names in models_by_key.values() for name in names}),
        "conversations": Conversation.objects.filter(owner=request.user)[:100],
        "current": current,
        "history": history,
        # With KEYS_BACKEND=aws, API Gateway admits each message against the user's own key.
        "key_in_browser": key_in_browser,
        "model": (current.model if current and current.model else "")
        or (settings.LLM_MODEL if key_in_browser else calls.default_model()),
    }
    return render(request, "chat/chat.html", context)


@login_required
@require_POST
def conversation_rename(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    title = " ".join(request.POST.get("title", "").split())[:200]
    if not title:
        messages.error(request, _("A conversation needs a name."))
    else:
        conversation.title = title
        conversation.save(update_fields=["title", "updated_at"])
    return redirect(f"/chat/?c={conversation.pk}")


@login_required
@require_POST
def conversation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _conversation(request, pk).delete()
    messages.success(request, _("Conversation deleted."))
    return redirect("chat")
