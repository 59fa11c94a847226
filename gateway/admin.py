"""Staff manage the catalogue here: upstreams (keys set, never shown back), models and plan grants."""

from decimal import Decimal
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import _boolean_icon
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gateway.models import CatalogModel, Upstream
from keys.templatetags.keys_extras import money_with_currency


class UpstreamForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Sealed at rest and never shown again. Leave empty to keep the current key."),
    )
    clear_api_key = forms.BooleanField(required=False, label=_("Clear API key"), help_text=_("Remove the stored key."))

    class Meta:
        model = Upstream
        fields = [
            "name",
            "base_url",
            "api_key",
            "clear_api_key",
            "api_key_env",
            "timeout",
            "weight",
            "max_concurrent",
            "enabled",
        ]

    def save(self, commit: bool = True) -> Upstream:
        upstream = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            upstream.sealed_api_key = ""
        elif self.cleaned_data.get("api_key"):
            upstream.set_api_key(self.cleaned_data["api_key"])
        if commit:
            upstream.save()
            self.save_m2m()
        return upstream


@admin.register(Upstream)
class UpstreamAdmin(admin.ModelAdmin):
    form = UpstreamForm
    # Whether a key is there, never which variables this process has.
    # Fits a 1280-pixel screen: the address by its host (the whole URL on hover), one column of health.
    list_display = ["name", "address", "weight", "enabled", "key_set", "health"]
    list_filter = ["enabled"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["key_status", "last_success_at", "last_error_at", "last_error"]

    @admin.display(description=_("base URL"), ordering="base_url")
    def address(self, upstream: Upstream) -> str:
        host = urlsplit(upstream.base_url).hostname or upstream.base_url
        shown = host if len(host) <= 32 else host[:31] + "…"
        return format_html('<span title="{}">{}</span>', upstream.base_url, shown)

    @admin.display(description=_("last answer"))
    def health(self, upstream: Upstream) -> str:
        """The later of the last success and the last error, and how long ago."""
        success, error = upstream.last_success_at, upstream.last_error_at
        if success is None and error is None:
            return gettext("not called yet")
        if error is not None and (success is None or error > success):
            ago = gettext("error %(ago)s ago") % {"ago": timesince(error)}
            return format_html('<strong class="errornote-inline" title="{}">{}</strong>', upstream.last_error, ago)
        return gettext("ok %(ago)s ago") % {"ago": timesince(success)}

    @admin.display(description=_("API key set"))
    def key_set(self, upstream: Upstream) -> str:
        # In red when the upstream has a key it cannot use here: it is not called at all then.
        if upstream.misconfiguration:  # the whole reason on hover and on the upstream's page
            return format_html(
                '<strong class="errornote-inline" title="{}">{}</strong>',
                self.key_status(upstream),
                gettext("unusable"),
            )
        return _boolean_icon(upstream.has_api_key)

    @admin.display(description=_("API key"))
    def key_status(self, upstream: Upstream) -> str:
        if upstream.api_key_env:
            return (
                gettext("from the environment (set)") if upstream.api_key else gettext("from the environment (not set)")
            )
        if not upstream.sealed_api_key:
            return gettext("none")
        if not upstream.api_key:
            return gettext("stored, but sealed under another DJANGO_SECRET_KEY: set it again")
        return gettext("stored (sealed)")


@admin.register(CatalogModel)
class CatalogModelAdmin(admin.ModelAdmin):
    # Fits a 1280-pixel screen: the three prices share a column; the output cap is on the model's page.
    list_display = ["name", "served_as", "upstream_names", "plan_names", "prices", "enabled"]
    list_filter = ["enabled", "upstreams", "plans"]
    search_fields = ["name", "upstream_model"]
    filter_horizontal = ["upstreams", "plans"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("upstreams", "plans")

    @admin.display(description=_("served as"))
    def served_as(self, model: CatalogModel) -> str:
        return model.served_as if model.served_as != model.name else gettext("same name")

    @admin.display(description=_("price"))
    def prices(self, model: CatalogModel) -> str:
        if model.price is None:
            return gettext("free")
        return format_html(
            "{}<br>{}<br>{}",
            gettext("in: %(price)s per million tokens") % {"price": _price(model.price_input_per_million)},
            gettext("out: %(price)s per million tokens") % {"price": _price(model.price_output_per_million)},
            gettext("a call: %(price)s") % {"price": _price(model.price_per_request)},
        )

    @admin.display(description=_("upstreams"))
    def upstream_names(self, model: CatalogModel) -> str:
        return ", ".join(u.name for u in model.upstreams.all())

    @admin.display(description=_("granted by"))
    def plan_names(self, model: CatalogModel) -> str:
        return ", ".join(p.name for p in model.plans.all()) or gettext("every plan that grants nothing in particular")

    @admin.display(description=_("input per million tokens"), ordering="price_input_per_million")
    def input_price(self, model: CatalogModel) -> str:
        return _price(model.price_input_per_million)

    @admin.display(description=_("output per million tokens"), ordering="price_output_per_million")
    def output_price(self, model: CatalogModel) -> str:
        return _price(model.price_output_per_million)

    @admin.display(description=_("per request"), ordering="price_per_request")
    def request_price(self, model: CatalogModel) -> str:
        return _price(model.price_per_request)


def _price(amount: Decimal | None) -> str:
    return money_with_currency(amount) if amount else gettext("free")
