"""GET /api/v1/usage/: the user's usage rows as JSON."""

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from usage.forms import PAGE_DAYS
from usage.selectors import MAX_DAYS, usage_rows


class UsageQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, required=False, default=PAGE_DAYS)


class UsageRowOut(serializers.Serializer):
    day = serializers.DateField()
    key_prefix = serializers.CharField()
    model = serializers.CharField()
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    refused = serializers.IntegerField()
    cost = serializers.CharField(help_text="In TOLLGATE_CURRENCY, as a decimal string (never a float).")


class UsageList(APIView):
    """GET /api/v1/usage/?days=N: the same rows as the CSV export, as JSON."""

    def get(self, request: Request) -> Response:
        query = UsageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = usage_rows(owner=request.user, days=query.validated_data["days"])
        return Response(UsageRowOut([row.as_dict() for row in rows], many=True).data)
