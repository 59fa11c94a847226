"""The keys app's settings, read when asked (allauth's app_settings pattern), each with its default."""

from django.conf import settings


class AppSettings:
    def _setting(self, name: str, default: object) -> object:
        return getattr(settings, name, default)

    @property
    def KEYS_BACKEND(self) -> str:
        """'local', 'aws' or a dotted path to a BaseKeyBackend subclass."""
        return self._setting("KEYS_BACKEND", "local")

    @property
    def TOLLGATE_CURRENCY(self) -> str:
        """The one currency of prices, budgets and spend."""
        return self._setting("TOLLGATE_CURRENCY", "USD")

    @property
    def KEYS_PLAN_MODELS(self) -> str:
        """A dotted path to `f(*, plan_id) -> list[str]`, the models a plan grants, for key scopes; empty: any."""
        return self._setting("KEYS_PLAN_MODELS", "")

    @property
    def REDIS_URL(self) -> str:
        """Redis for quota counters and throttles; empty: the database and this process."""
        return self._setting("REDIS_URL", "")

    @property
    def AWS_REGION(self) -> str:
        return self._setting("AWS_REGION", "")

    @property
    def AWS_API_GATEWAY_API_ID(self) -> str:
        return self._setting("AWS_API_GATEWAY_API_ID", "")

    @property
    def AWS_API_GATEWAY_STAGE(self) -> str:
        return self._setting("AWS_API_GATEWAY_STAGE", "")

    @property
    def AWS_API_GATEWAY_URL(self) -> str:
        """Where clients reach the LLM through API Gateway (KEYS_BACKEND=aws)."""
        return self._setting("AWS_API_GATEWAY_URL", "")


app_settings = AppSettings()
