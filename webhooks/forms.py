"""The form that adds an endpoint on /account/webhooks/."""

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.models import USER_EVENTS
from webhooks.rules import validate_webhook_url


class EndpointForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, validators=[validate_webhook_url], assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(event, event) for event in USER_EVENTS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: all of them."),
    )
