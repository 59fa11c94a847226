"""Input and output shapes of the keys APIs."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from keys.app_settings import app_settings
from keys.models import ApiKey, Plan
from keys.money import money_text
from keys.periods import period_current


class PlanOut(serializers.ModelSerializer):
    """A plan: its limits count per period (a calendar day, week or month in its time zone).

    `requests_per_day` (the seed's field) is there for day plans only; `requests_per_period` always."""

    requests_per_period = serializers.IntegerField(source="requests_per_day")
    tokens_per_period = serializers.IntegerField(source="tokens_per_day", allow_null=True)
    budget = serializers.SerializerMethodField(help_text="Money a period, as a decimal string; null: none.")
    currency = serializers.SerializerMethodField()
    reset_at = serializers.SerializerMethodField(help_text="When the current period ends, in the plan's time zone.")

    class Meta:
        model = Plan
        fields = [
            "name",
            "requests_per_day",
            "requests_per_period",
            "tokens_per_period",
            "period",
            "time_zone",
            "budget",
            "currency",
            "reset_at",
            "throttle_rate",
            "throttle_burst",
            "max_key_days",
            "description",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_budget(self, plan: Plan) -> str | None:
        return money_text(plan.budget_nanos)

    def get_currency(self, plan: Plan) -> str:
        return app_settings.TOLLGATE_CURRENCY

    def get_reset_at(self, plan: Plan) -> str:
        return period_current(plan.period, plan.time_zone)[1].isoformat()

    def to_representation(self, plan: Plan) -> dict:
        data = super().to_representation(plan)
        if plan.period != Plan.Period.DAY:
            del data["requests_per_day"]  # a week's or month's limit is not a day's
        return data


class CreateKeyIn(serializers.Serializer):
    """The seed's POST /create_key body."""

    plan_name = serializers.CharField(max_length=64)
    user = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")


class CreateKeyOut(serializers.Serializer):
    value = serializers.CharField(help_text="The key. It is shown this once and never again.")


class KeyCreateIn(serializers.Serializer):
    plan = serializers.CharField(max_length=64, help_text="The plan's name, e.g. 10RequestPerDay.")
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        allow_null=True,
        default=None,
        help_text="Days until the key stops working; null or absent: never (or the plan's maximum).",
    )


class KeySwitchIn(serializers.Serializer):
    plan = serializers.CharField(max_length=64, help_text="The plan to move the key to.")


class KeyOut(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.name")
    prefix = serializers.CharField(source="public_prefix")
    status = serializers.SerializerMethodField()
    team = serializers.IntegerField(source="team_id", allow_null=True, help_text="The team's id; null: a personal key.")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "label",
            "prefix",
            "plan",
            "team",
            "status",
            "created_at",
            "last_used_at",
            "revoked_at",
            "expires_at",
            "allowed_ips",
            "allowed_models",
            "max_requests",
        ]

    def get_status(self, key: ApiKey) -> str:
        return key.status


class KeyScopesIn(serializers.Serializer):
    """Only the fields given change. Each is checked by the key service, which names a bad entry."""

    allowed_ips = serializers.JSONField(required=False, help_text="Addresses and CIDRs; [] for anywhere.")
    allowed_models = serializers.JSONField(required=False, help_text="Models of the plan; [] for all it grants.")
    max_requests = serializers.JSONField(required=False, help_text="Requests a period under the plan's; null: none.")


class KeyCreatedOut(KeyOut):
    value = serializers.CharField(help_text="The key. It is shown this once and never again.")

    class Meta(KeyOut.Meta):
        fields = [*KeyOut.Meta.fields, "value"]


class MessageOut(serializers.Serializer):
    detail = serializers.CharField()
