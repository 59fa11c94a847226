"""Input and output shapes of the keys APIs."""

from rest_framework import serializers

from keys.models import ApiKey, Plan


class PlanOut(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["name", "requests_per_day", "throttle_rate", "throttle_burst", "description"]


class CreateKeyIn(serializers.Serializer):
    """The seed's POST /create_key body."""

    plan_name = serializers.CharField(max_length=64)
    user = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")


class CreateKeyOut(serializers.Serializer):
    value = serializers.CharField(help_text="The key. It is shown this once and never again.")


class KeyCreateIn(serializers.Serializer):
    plan = serializers.CharField(max_length=64, help_text="The plan's name, e.g. 10RequestPerDay.")
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class KeyOut(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.name")
    prefix = serializers.CharField(source="public_prefix")
    status = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "label", "prefix", "plan", "status", "created_at", "last_used_at", "revoked_at"]

    def get_status(self, key: ApiKey) -> str:
        return "active" if key.is_active else "revoked"


class KeyCreatedOut(KeyOut):
    value = serializers.CharField(help_text="The key. It is shown this once and never again.")

    class Meta(KeyOut.Meta):
        fields = [*KeyOut.Meta.fields, "value"]


class MessageOut(serializers.Serializer):
    detail = serializers.CharField()
