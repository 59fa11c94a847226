"""The gateway's settings, read when asked (allauth's app_settings pattern), each with its default."""

from django.conf import settings


class AppSettings:
    def _setting(self, name: str, default: object) -> object:
        return getattr(settings, name, default)

    @property
    def LLM_BASE_URL(self) -> str:
        """The OpenAI-compatible upstream, including /v1; empty: the built-in demo model."""
        return self._setting("LLM_BASE_URL", "")

    @property
    def LLM_API_KEY(self) -> str:
        """The provider's secret, sent upstream and never to users."""
        return self._setting("LLM_API_KEY", "")

    @property
    def LLM_MODEL(self) -> str:
        """The model used when a request names none."""
        return self._setting("LLM_MODEL", "")

    @property
    def LLM_TIMEOUT(self) -> float:
        """Seconds to wait for the upstream's next byte."""
        return self._setting("LLM_TIMEOUT", 120.0)

    @property
    def LLM_MAX_CONCURRENT(self) -> int:
        """Most requests in flight to the LLM_* upstream from one process; 0: no limit."""
        return self._setting("LLM_MAX_CONCURRENT", 0)

    @property
    def GATEWAY_CATALOGUE_SECONDS(self) -> float:
        """How long a process keeps its copy of the model catalogue; staff changes apply within this."""
        return self._setting("GATEWAY_CATALOGUE_SECONDS", 2.0)

    @property
    def METRICS_TOKEN(self) -> str:
        """Turns on /metrics, which then needs `Authorization: Bearer <token>`; empty: nothing is counted."""
        return self._setting("METRICS_TOKEN", "")

    @property
    def PROMETHEUS_MULTIPROC_DIR(self) -> str:
        """The folder worker processes share their figures in; empty: one per server under the temp folder."""
        return self._setting("PROMETHEUS_MULTIPROC_DIR", "")

    @property
    def UPSTREAM_KEY_ENV_PREFIX(self) -> str:
        """The prefix every upstream's api_key_env must carry, so staff cannot send other variables upstream."""
        return self._setting("UPSTREAM_KEY_ENV_PREFIX", "TOLLGATE_UPSTREAM_")

    @property
    def UPSTREAM_ALLOW_PRIVATE(self) -> bool:
        """Whether upstreams may be on loopback or private addresses (local models such as Ollama)."""
        return self._setting("UPSTREAM_ALLOW_PRIVATE", False)


app_settings = AppSettings()
