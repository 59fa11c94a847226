"""Input and output shapes of the keys APIs."""

from rest_framework import serializers

from keys.models import ApiKey, Plan


class PlanOut(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["name", "requests_per_day", "throttle_rate", "throttle_burst", "max_key_days", "description"]


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

    class Meta:
        model = ApiKey
        fields = ["id", "label", "prefix", "plan", "status", "created_at", "last_used_at", "revoked_at", "expires_at"]

    def get_status(self, key: ApiKey) -> str:
        return key.status


class KeyCreatedOut(KeyOut):
    value = serializers.CharField(help_text="The key. It is shown this once and never again.")

    class Meta(KeyOut.Meta):
        fields = [*KeyOut.Meta.fields, "value"]


class MessageOut(serializers.Serializer):
    detail = serializers.CharField()
