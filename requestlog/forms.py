"""The request log's query parameters, checked the same way for the page, the API and the CSV export."""

import base64
import binascii
import datetime
import re
from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_LIMIT = 500
PAGE_LIMIT = 50
_DIGITS = re.compile(r"[0-9]{1,3}")
_TEXT = re.compile(r"[A-Za-z0-9._:/@+\-]{1,200}")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)
_CURSOR = re.compile(r"(?P<micros>[0-9]{1,20})\.(?P<id>[0-9]{1,20})")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's time and id (newest first, so the next page is older)."""

    time: datetime.datetime
    id: int

    def encode(self) -> str:
        micros = (self.time - EPOCH) // MICROSECOND
        return base64.urlsafe_b64encode(f"{micros}.{self.id}".encode()).decode().rstrip("=")


def cursor_decode(value: str) -> Cursor | None:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    match = _CURSOR.fullmatch(text)
    if match is None:
        return None
    try:
        when = EPOCH + int(match["micros"]) * MICROSECOND
    except OverflowError:
        return None
    return Cursor(when, int(match["id"]))


def _clean_text(value: str, label: str) -> str:
    if value and not _TEXT.fullmatch(value):
        raise forms.ValidationError(_("%(field)s has characters it cannot have.") % {"field": label})
    return value


class RequestQuery(forms.Form):
    """Filters and a page position; every field optional, every value checked (never a 500)."""

    key = forms.CharField(required=False, max_length=40)
    model = forms.CharField(required=False, max_length=200)
    status = forms.CharField(required=False, max_length=3)
    refusal = forms.CharField(required=False, max_length=32)
    request_id = forms.CharField(required=False, max_length=64)
    since = forms.DateTimeField(required=False)
    until = forms.DateTimeField(required=False)
    cursor = forms.CharField(required=False, max_length=60)
    limit = forms.CharField(required=False, max_length=3)
    team = forms.CharField(required=False, max_length=18)

    def clean_key(self) -> str:
        return _clean_text(self.cleaned_data["key"].rstrip("…"), "key")

    def clean_model(self) -> str:
        return _clean_text(self.cleaned_data["model"], "model")

    def clean_refusal(self) -> str:
        return _clean_text(self.cleaned_data["refusal"], "refusal")

    def clean_request_id(self) -> str:
        return _clean_text(self.cleaned_data["request_id"], "request_id")

    def clean_status(self) -> int | None:
        value = self.cleaned_data["status"]
        if not value:
            return None
        if not _DIGITS.fullmatch(value) or not 100 <= int(value) <= 599:
            raise forms.ValidationError(_("status must be an HTTP status from 100 to 599."))
        return int(value)

    def clean_team(self) -> int | None:
        value = self.cleaned_data["team"]
        if not value:
            return None
        if not re.fullmatch(r"[0-9]{1,18}", value) or int(value) < 1:
            raise forms.ValidationError(_("team must be a team's id."))
        return int(value)

    def clean_limit(self) -> int:
        value = self.cleaned_data["limit"]
        if not value:
            return PAGE_LIMIT
        if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
            raise forms.ValidationError(_("limit must be a whole number from 1 to %(max)d.") % {"max": MAX_LIMIT})
        return int(value)

    def clean_cursor(self) -> Cursor | None:
        value = self.cleaned_data["cursor"]
        if not value:
            return None
        cursor = cursor_decode(value)
        if cursor is None:
            raise forms.ValidationError(_("cursor is not one this site gave out."))
        return cursor

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("since must not be later than until."))
        return data

    def errors_text(self) -> str:
        return " ".join(f"{field}: {' '.join(messages)}" for field, messages in self.errors.items())
