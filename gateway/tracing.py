"""OpenTelemetry traces of every call, sent by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

import atexit
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from gateway.catalogue import Target
    from gateway.notes import CallNote

Begun = tuple["Span", object]  # the request's span and the context token to detach

_tracer: "Tracer | None" = None
_configured = False
_provider: Any = None


def enabled() -> bool:
    """Whether calls are traced; the settings are read on the first ask (and after a test changes them)."""
    if not _configured:
        _configure()
    return _tracer is not None


def _configure() -> None:
    global _configured, _tracer, _provider
    _configured = True
    endpoint = getattr(settings, "OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = getattr(settings, "OTEL_SERVICE_NAME", "") or "tollgate"
    _provider = TracerProvider(resource=Resource.create({"service.name": service}))
    # The OTel spec's base-endpoint variable: traces go to <endpoint>/v1/traces. A batch is exported on
    # the processor's own thread, and a full queue drops spans: a slow collector never holds up a call.
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    atexit.register(_provider.shutdown)  # the last batch is sent when the process exits
    _tracer = _provider.get_tracer("tollgate")


@receiver(setting_changed)
def _reconfigure(*, setting: str, **_) -> None:
    global _configured, _tracer, _provider
    if setting in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"):
        if _provider is not None:
            atexit.unregister(_provider.shutdown)
            _provider.shutdown()
        _configured, _tracer, _provider = False, None, None


def request_begin(*, route: str, request_id: str, method: str = "", name: str = "") -> Begun | None:
    """Begin the request's span (named `name`, else "<method> <route>") and make it the parent of the
    call's spans; None when tracing is off."""
    if not _configured:
        _configure()
    if _tracer is None:
        return None
    from opentelemetry import context, trace

    attributes = {"tollgate.request_id": request_id, "http.route": route}
    span = _tracer.start_span(name or f"{method} {route}", kind=trace.SpanKind.SERVER, attributes=attributes)
    return span, context.attach(trace.set_span_in_context(span))


def request_detach(begun: Begun) -> None:
    """Stop making the request's span the parent, in the context that began it (a chat turn outlives its frame)."""
    from opentelemetry import context

    context.detach(begun[1])


def request_end(begun: Begun, status: int, note: "CallNote | None", *, detach: bool = True) -> None:
    from opentelemetry.trace import StatusCode

    if detach:
        request_detach(begun)
    span = begun[0]
    span.set_attribute("http.response.status_code", status)
    if note is not None:
        span.set_attributes(_note_facts(note))
    if status >= 500:
        span.set_status(StatusCode.ERROR)
    span.end()


def _note_facts(note: "CallNote") -> dict[str, Any]:
    facts: dict[str, Any] = {"tollgate.stream": note.stream}
    named = {
        "gen_ai.request.model": note.model,
        "tollgate.upstream": note.upstream,
        "tollgate.refusal": note.refusal,
    }
    facts.update((name, value) for name, value in named.items() if value)
    if note.prompt_tokens or note.completion_tokens:
        facts["gen_ai.usage.input_tokens"] = note.prompt_tokens
        facts["gen_ai.usage.output_tokens"] = note.completion_tokens
    return facts


def child_begin(name: str) -> "Span | None":
    """A span under the request's; None when tracing is off (the caller then skips child_end)."""
    if _tracer is None:
        return None
    return _tracer.start_span(name)


def child_end(span: "Span", *, error: str = "", attributes: dict[str, Any] | None = None) -> None:
    """End a child span with its facts; `error` is a code (never a message, which may quote the upstream)."""
    from opentelemetry.trace import StatusCode

    if attributes:
        span.set_attributes(attributes)
    if error:
        span.set_attribute("error.type", error)
        span.set_status(StatusCode.ERROR)
    span.end()


def admission_end(span: "Span", *, plan: str, refusal: str) -> None:
    """End the admission span; the plan and any refusal go on the request's span too."""
    from opentelemetry import trace

    facts = {"tollgate.plan": plan, **({"tollgate.refusal": refusal} if refusal else {})}
    trace.get_current_span().set_attributes(facts)
    span.set_attributes(facts)
    span.end()


def upstream_end(span: "Span", tried: Sequence["Target"], failure: Exception | None = None) -> None:
    """End the upstream span: the upstream that answered (or failed last), its model, status and retries."""
    from gateway.errors import AdmissionRefused, UpstreamError, UpstreamRefused

    last = tried[-1] if tried else None
    facts: dict[str, Any] = {"tollgate.retries": max(len(tried) - 1, 0)}
    if last is not None:
        facts["tollgate.upstream"], facts["gen_ai.request.model"] = last.upstream_name, last.model
    if failure is None:
        facts["http.response.status_code"] = 200  # the upstream clients raise on anything but 2xx
    elif isinstance(failure, (UpstreamError, UpstreamRefused)):
        facts["http.response.status_code"] = failure.status
    error = ""
    if isinstance(failure, (UpstreamError, AdmissionRefused)):
        error = failure.code
    elif isinstance(failure, UpstreamRefused):
        error = "refused"
    elif failure is not None:
        error = type(failure).__name__
    child_end(span, error=error, attributes=facts)
