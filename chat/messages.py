"""Every message the chat socket and the seed's /query show to people, in one place.

They are translated: the socket speaks the page's language. /query is an API, so it answers in English."""

import datetime

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from keys.periods import moment_text

LIMIT_EXCEEDED = _("Limit Exceeded")
TOO_MANY_REQUESTS = _("Too Many Requests")

QUERY_MESSAGE_REQUIRED = _("The 'message' query parameter is required.")

FRAME_NOT_JSON = _("Frames must be JSON objects.")
FRAME_UNKNOWN = _("Unknown frame type; use 'send', 'retry' or 'stop'.")
FRAME_BAD_IDS = _("'key' must be a key id and 'conversation' an id or null.")
FRAME_BAD_MODEL = _("'model' must be a model name.")
BUSY = _("Wait for the answer to finish, or stop it first.")
EMPTY_MESSAGE = _("Type a message first.")
RETRY_NEEDS_CONVERSATION = _("Retry needs the conversation.")
NOT_YOUR_KEY = _("That is not one of your active keys. Pick another or generate one.")
KEY_REVOKED = _("That key has been revoked.")
IP_NOT_ALLOWED = _(
    "This key may not be used from your address: it is limited to some addresses. Change its limits on the Keys page."
)
KEY_EXPIRED = _("That key has expired. Generate a new one on the Keys page.")
SLOW_DOWN = _("Slow down a little.")
NO_CONVERSATION = _("That conversation does not exist.")
MODEL_FAILED = _("Something went wrong: the model did not answer. This message was not charged.")
MODEL_REFUSED = _("Something went wrong: the model refused the request. This message was not charged.")
OUR_FAILURE = _("Something went wrong on our side. This message was not charged.")
UNAVAILABLE = _(
    "Tollgate cannot reach its database or cache just now. This message was not charged; try again shortly."
)


PERIOD_NAMES = {
    "day": pgettext_lazy("period", "day"),
    "week": pgettext_lazy("period", "week"),
    "month": pgettext_lazy("period", "month"),
}


def _when(reset_at: datetime.datetime) -> str:
    return moment_text(reset_at)


def key_cap_detail(prefix: str, cap: int, period: str, reset_at: datetime.datetime) -> str:
    values = {"key": prefix, "cap": cap, "period": PERIOD_NAMES.get(period, period), "reset": _when(reset_at)}
    return gettext("The key %(key)s is capped at %(cap)s requests per %(period)s; it resets at %(reset)s.") % values


def limit_detail(plan: str, limit: int, period: str, reset_at: datetime.datetime) -> str:
    values = {"plan": plan, "limit": limit, "period": PERIOD_NAMES.get(period, period), "reset": _when(reset_at)}
    return gettext("%(plan)s allows %(limit)s requests per %(period)s; it resets at %(reset)s.") % values


def token_limit_detail(plan: str, limit: int | None, period: str, reset_at: datetime.datetime) -> str:
    values = {"plan": plan, "limit": limit, "period": PERIOD_NAMES.get(period, period), "reset": _when(reset_at)}
    text = gettext(
        "%(plan)s allows %(limit)s tokens per %(period)s, and too few are left for this answer; it resets at %(reset)s."
    )
    return text % values


def budget_detail(plan: str, budget: str, left: str, currency: str, period: str, reset_at: datetime.datetime) -> str:
    values = {
        "plan": plan,
        "budget": f"{budget} {currency}",
        "left": f"{left} {currency}",
        "period": PERIOD_NAMES.get(period, period),
        "reset": _when(reset_at),
    }
    return (
        gettext(
            "%(plan)s's budget is %(budget)s per %(period)s; %(left)s is left, too little for this answer. "
            "It resets at %(reset)s."
        )
        % values
    )


def not_a_chat_model(model: str) -> str:
    return gettext("The model '%(model)s' does not chat; pick a chat model.") % {"model": model}


def too_long(limit: int) -> str:
    return gettext("Messages are limited to %(limit)s characters.") % {"limit": limit}


def model_not_found(model: str, granted: list[str]) -> str:
    values = {"model": model, "models": ", ".join(granted) if granted else gettext("none")}
    return (
        gettext(
            "The model '%(model)s' does not exist or your plan does not include it. Models for this key: %(models)s."
        )
        % values
    )
