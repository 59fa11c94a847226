"""The one place Tollgate talks to boto3: the API Gateway client, and AWS errors as plain messages."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from keys.app_settings import app_settings
from keys.exceptions import KeyBackendError

_MESSAGES = {
    "TooManyRequestsException": gettext_lazy(
        "AWS API Gateway is throttling Tollgate's requests. Try again in a minute."
    ),
    "LimitExceededException": gettext_lazy(
        "AWS API Gateway refused: an account limit was reached. Staff: see the AWS quotas."
    ),
    "AccessDeniedException": gettext_lazy(
        "Tollgate's AWS credentials are not allowed to do this. Staff: check its IAM policy."
    ),
    "UnauthorizedException": gettext_lazy("Tollgate's AWS credentials were refused. Staff: check them."),
    "NotFoundException": gettext_lazy("API Gateway does not know this plan or key. Staff: run `manage.py sync_plans`."),
    "ConflictException": gettext_lazy("API Gateway already has a conflicting key or plan."),
    "BadRequestException": gettext_lazy("API Gateway refused the request as invalid."),
}


@lru_cache(maxsize=4)
def _client_for(region: str, endpoint_url: str, access_key_id: str):
    # endpoint_url and access_key_id only key the cache: boto3 reads them from the environment itself.
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15)
    return boto3.client("apigateway", region_name=region or None, config=config)


def apigateway_client():
    """One client per process (boto3 clients are thread-safe): boto3's standard credential chain,
    region and AWS_ENDPOINT_URL, with retries in standard mode."""
    environ = os.environ
    return _client_for(
        app_settings.AWS_REGION, environ.get("AWS_ENDPOINT_URL", ""), environ.get("AWS_ACCESS_KEY_ID", "")
    )


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def describe(exc: Exception) -> Promise:
    if isinstance(exc, ClientError):
        refused = format_lazy(
            gettext_lazy("AWS API Gateway refused the request ({code})."), code=error_code(exc) or "?"
        )
        return _MESSAGES.get(error_code(exc), refused)
    return gettext_lazy("AWS API Gateway could not be reached. Try again shortly.")


@contextmanager
def aws_errors(action: Promise) -> Iterator[None]:
    """Turn boto3's errors into KeyBackendError carrying a message users and staff can act on."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise KeyBackendError(
            format_lazy(gettext_lazy("Could not {action}: {reason}"), action=action, reason=describe(exc))
        ) from exc
