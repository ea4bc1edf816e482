"""OpenTelemetry traces, on when the standard ``OTEL_*`` variables ask for them.

Off, nothing of OpenTelemetry is imported (this module's top imports only the standard
library). On, which needs the ``agents-api[otel]`` extra:

- a server span per request, from Litestar's OpenTelemetry plugin, named after the route
  (``GET /api/v1/agents/{agent_id}``) with ``http.route`` set once the route is known;
- a span per database statement as its descendant: on PostgreSQL the statements run on asyncpg
  connections (the driver path and SQLAlchemy's asyncpg dialect alike), so asyncpg is
  instrumented (opentelemetry-instrumentation-asyncpg); on SQLite they run through SQLAlchemy,
  whose engine events start and end a span per statement. Statement text is recorded,
  parameters are not.

The tracer provider is the process's global one when something else set it up (for example
``opentelemetry-instrument``); otherwise one is made from the environment: ``OTEL_SERVICE_NAME``
(default ``agents-api``), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_EXPORTER`` (``otlp``,
``console``, ``none``; default ``otlp``) and the OTLP exporter's own ``OTEL_EXPORTER_OTLP_*``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.plugins import InitPlugin
    from litestar.types import ASGIApp, Receive, Scope, Send
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import TracerProvider as AnyTracerProvider

    from agents_core.db.database import Database

__all__ = [
    "EXPORTERS",
    "RequestTracing",
    "skip_litestar_probe",
    "tracing_requested",
    "tracing_setup_error",
]

EXPORTERS = ("otlp", "console", "none")


_LITESTAR_PLUGIN = "litestar.plugins.opentelemetry"


def skip_litestar_probe(tracing: bool) -> Callable[[], None]:
    """Keep Litestar from importing OpenTelemetry for an app built without traces (``tracing``
    false); returns the function that undoes it, to call once the app is built.

    Every ``Litestar(...)`` imports its OpenTelemetry plugin to look for one (and ignores an
    ``ImportError``); with the ``otel`` extra installed that loads OpenTelemetry's API and ASGI
    instrumentation (~1.4 MiB in each worker) for nothing. A ``None`` entry in ``sys.modules``
    makes that import fail, for as long as the app is being built.
    """
    if tracing or _LITESTAR_PLUGIN in sys.modules:
        return _nothing_to_undo
    sys.modules[_LITESTAR_PLUGIN] = None  # type: ignore[assignment]

    def undo() -> None:
        if sys.modules.get(_LITESTAR_PLUGIN, ...) is None:
            del sys.modules[_LITESTAR_PLUGIN]

    return undo


def _nothing_to_undo() -> None:
    pass


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return [name.strip() for name in raw.split(",") if name.strip()] or ["otlp"]


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether the environment turns traces on: an exporter other than ``none`` is named, or an
    OTLP endpoint is given, and ``OTEL_SDK_DISABLED`` is not true."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip():
        return _exporter_names(environ) != ["none"]
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


def tracing_setup_error(environ: Mapping[str, str]) -> str | None:
    """Why traces that the environment asks for cannot be set up (None when they can)."""
    unknown = [name for name in _exporter_names(environ) if name not in EXPORTERS]
    if unknown:
        return (
            f"OTEL_TRACES_EXPORTER={environ.get('OTEL_TRACES_EXPORTER')!r} names unknown "
            f"exporters {unknown}: use {', '.join(EXPORTERS)}"
        )
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        return (
            "OTEL_* variables turn traces on but the OpenTelemetry SDK is not installed: "
            "install agents-api[otel], or unset OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_*"
        )
    grpc = "otlp" in _exporter_names(environ) and _otlp_protocol(environ) == "grpc"
    if grpc and importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None:
        return (
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc "
            "installed (agents-api[otel] brings http/protobuf)"
        )
    return None


def _otlp_protocol(environ: Mapping[str, str]) -> str:
    return (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()


def _provider_from_environment(environ: Mapping[str, str]) -> TracerProvider:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    named = "OTEL_SERVICE_NAME" in environ or "service.name" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: "agents-api"})
    provider = TracerProvider(resource=resource)
    for name in _exporter_names(environ):
        exporter: SpanExporter
        if name == "console":
            exporter = ConsoleSpanExporter()
        elif name == "otlp" and _otlp_protocol(environ) == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcSpanExporter,
            )

            exporter = GrpcSpanExporter()
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        else:
            continue
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class SpanRouteNaming:
    """Route middleware (it runs once the route is known): names the request's span after the
    route template, as OpenTelemetry's HTTP conventions ask, rather than the raw path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from opentelemetry import trace

        template = scope.get("path_template")
        span = trace.get_current_span()
        if template and span.is_recording():
            span.update_name(f"{scope.get('method', '')} {template}".strip())
            span.set_attribute("http.route", template)
        await self.app(scope, receive, send)


def _trace_sqlalchemy_statements(database: Database, provider: AnyTracerProvider) -> None:
    """A span per statement that SQLAlchemy runs on the database's engine (the SQLite path).

    opentelemetry-instrumentation-sqlalchemy refuses the SQLAlchemy this project uses; two
    engine events do the same here: the statement's text, never its parameters.
    """
    from opentelemetry.trace import SpanKind, Status, StatusCode
    from sqlalchemy import event

    tracer = provider.get_tracer(__name__)
    engine = database.sqlalchemy_engine().sync_engine
    system = engine.dialect.name
    key = "_agents_span"

    def before(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        operation = statement.split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"{operation} {system}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": statement},
        )
        setattr(context, key, span)

    def after(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, key, None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, key, None)
        if span is not None:
            span.set_status(
                Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            )
            span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    # Until routing has found the template, the span is named after the method alone.
    return str(scope.get("method", "HTTP")), {}


class RequestTracing:
    """What the app wires when traces are on: a plugin, a middleware, a shutdown hook."""

    def __init__(self, database: Database, environ: Mapping[str, str]) -> None:
        from opentelemetry import trace

        current: AnyTracerProvider = trace.get_tracer_provider()
        self._owned: TracerProvider | None = None
        if isinstance(current, trace.ProxyTracerProvider):
            self._owned = _provider_from_environment(environ)
            trace.set_tracer_provider(self._owned)
            current = self._owned
        self.provider = current
        if database.is_postgres:
            from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

            instrumentor: Any = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=current)
        else:
            _trace_sqlalchemy_statements(database, current)

    def plugin(self) -> InitPlugin:
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

        return OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=self.provider,
                scope_span_details_extractor=_span_details,
                # A span per ASGI message (each body chunk of a stream) says nothing useful.
                exclude_spans=["receive", "send"],
            )
        )

    @property
    def middleware(self) -> type[SpanRouteNaming]:
        return SpanRouteNaming

    def shutdown(self) -> None:
        """Send the spans still buffered (only for a provider this module made)."""
        if self._owned is not None:
            self._owned.shutdown()
