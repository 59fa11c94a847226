"""Keys and quotas in AWS API Gateway usage plans, which enforce them in front of the LLM."""

import datetime
import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from apigateway.client import apigateway_client, aws_errors, error_code
from apigateway.plans import plans_sync
from keys.app_settings import app_settings
from keys.backends.base import BaseKeyBackend
from keys.exceptions import KeyBackendError
from keys.metering import utc_today
from keys.models import ApiKey, Plan
from keys.periods import period_current

logger = logging.getLogger(__name__)


NOT_SYNCED = gettext_lazy("Plan {plan} is not in API Gateway yet. Staff: run `manage.py sync_plans`.")


class AwsKeyBackend(BaseKeyBackend):
    """Each Plan is a usage plan (see `manage.py sync_plans`); each key is an API Gateway API key."""

    meters_money = False  # API Gateway admits the requests: it counts requests, not money

    def __init__(self, client=None, **options) -> None:
        super().__init__(**options)
        self._client = client

    @property
    def client(self):
        # Made on first use: asking only where requests go (external_gateway_url) needs no AWS client.
        if self._client is None:
            self._client = apigateway_client()
        return self._client

    def create_key(self, *, owner_email: str, plan: Plan, plaintext: str) -> str:
        if not plan.backend_id:
            raise KeyBackendError(format_lazy(NOT_SYNCED, plan=plan.name))
        with aws_errors(gettext_lazy("create the key")):
            key_id = self.client.create_api_key(
                name=owner_email, enabled=True, generateDistinctId=True, value=plaintext, description="Tollgate"
            )["id"]
        try:
            with aws_errors(gettext_lazy("attach the key to its usage plan")):
                self.client.create_usage_plan_key(usagePlanId=plan.backend_id, keyId=key_id, keyType="API_KEY")
        except BaseException:
            self.delete_key(backend_id=key_id)  # leave no orphan key behind
            raise
        return key_id

    def delete_key(self, *, backend_id: str) -> None:
        if not backend_id:
            return
        try:
            self.client.delete_api_key(apiKey=backend_id)
        except ClientError as exc:
            if error_code(exc) != "NotFoundException":
                logger.error("could not delete API Gateway key %s: %s", backend_id, exc)
                raise KeyBackendError(gettext_lazy("Could not delete the key in API Gateway.")) from exc
        except BotoCoreError as exc:
            logger.error("could not delete API Gateway key %s: %s", backend_id, exc)
            raise KeyBackendError(gettext_lazy("Could not reach API Gateway to delete the key.")) from exc

    def revoke_key(self, *, api_key: ApiKey) -> None:
        if not api_key.backend_id:
            return
        with aws_errors(gettext_lazy("revoke the key")):
            self.client.update_api_key(
                apiKey=api_key.backend_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
            )
        try:
            self.client.delete_usage_plan_key(usagePlanId=api_key.plan.backend_id, keyId=api_key.backend_id)
        except (ClientError, BotoCoreError, KeyError) as exc:
            # Disabled already stops it working; detaching is tidiness, so a failure here is only logged.
            logger.warning("key %s disabled but not detached from its usage plan: %s", api_key.public_prefix, exc)

    def switch_key_plan(self, *, api_key: ApiKey, old_plan: Plan, new_plan: Plan) -> None:
        if not api_key.backend_id:
            return
        if not new_plan.backend_id:
            raise KeyBackendError(format_lazy(NOT_SYNCED, plan=new_plan.name))
        # Detach first: AWS refuses a key in two usage plans of the same stage.
        with aws_errors(gettext_lazy("move the key out of its usage plan")):
            self.client.delete_usage_plan_key(usagePlanId=old_plan.backend_id, keyId=api_key.backend_id)
        try:
            with aws_errors(gettext_lazy("move the key into its new usage plan")):
                self.client.create_usage_plan_key(
                    usagePlanId=new_plan.backend_id, keyId=api_key.backend_id, keyType="API_KEY"
                )
        except KeyBackendError:
            self.client.create_usage_plan_key(
                usagePlanId=old_plan.backend_id, keyId=api_key.backend_id, keyType="API_KEY"
            )
            raise

    def plans(self) -> list[Plan]:
        return list(Plan.objects.filter(is_active=True).exclude(backend_id=""))

    def key_usage(
        self, *, api_key: ApiKey, start: datetime.date, end: datetime.date
    ) -> dict[datetime.date, int] | None:
        with aws_errors(gettext_lazy("read the key's usage")):
            answer = self.client.get_usage(
                usagePlanId=api_key.plan.backend_id,
                keyId=api_key.backend_id,
                startDate=start.isoformat(),
                endDate=end.isoformat(),
            )
        days = answer.get("items", {}).get(api_key.backend_id, [])
        # API Gateway answers [used, remaining] for each day from startDate on.
        return {start + datetime.timedelta(days=i): int(day[0]) for i, day in enumerate(days)}

    def used_today(self, *, api_key: ApiKey) -> int | None:
        # API Gateway counts its DAY, WEEK and MONTH in UTC: add up the period's days so far.
        start, _ = period_current(api_key.plan.period, "UTC")
        try:
            return sum((self.key_usage(api_key=api_key, start=start, end=utc_today()) or {}).values())
        except KeyBackendError:
            return None

    def external_gateway_url(self) -> str:
        return app_settings.AWS_API_GATEWAY_URL

    def plans_sync(self) -> list[str] | None:
        return [str(change) for change in plans_sync(client=self.client)]

    def plan_change_notice(self) -> str:
        return gettext("API Gateway enforces the quotas: use the action “Sync plans to API Gateway” to apply this.")
