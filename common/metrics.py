"""Prometheus metrics: one facade the domain code calls with one line at each point.

Every label is low-cardinality by construction — a route template, a status, an error code, a
provider name, a queue name — never a user, message, session or key id (docs/operations.md
lists each metric). In gunicorn the values live in prometheus_client's multiprocess files
(`PROMETHEUS_MULTIPROC_DIR`, one directory per tier); otherwise in this process's registry.

What is read rather than counted (holds open, tokens held, queue depth) comes from
`FleetCollector`, which reads MongoDB and Redis when `/metrics` is scraped: those are fleet-wide
facts, served by the web tier only (take `max` across instances, not `sum`).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import threading
from collections.abc import Iterable, Iterator

from config import get_settings
from config.settings import export_library_environment

export_library_environment(get_settings())  # before prometheus_client picks its value class

from prometheus_client import (  # noqa: E402 (see above)
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

from common.catalog import cache as catalog_cache  # noqa: E402
from common.wallet import service as wallet  # noqa: E402

log = logging.getLogger(__name__)

NS = "aipasta"
QUEUES = ("chat", "default")
_PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: `<queue>\x06\x16<priority>` lists

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
    namespace=NS,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    namespace=NS,
)
WEBSOCKETS_OPEN = Gauge(
    "websockets_open",
    "Authenticated websockets open now",
    namespace=NS,
    multiprocess_mode="livesum",
)
SENDS = Counter(
    "sends",
    "Chat sends (HTTP or websocket) accepted or refused, by error code",
    ["result", "code"],
    namespace=NS,
)
ANSWERS = Counter(
    "answers",
    "Answers ended, by provider and final status",
    ["provider", "status"],
    namespace=NS,
)


def _per_provider(name: str, documentation: str, buckets: tuple[float, ...]) -> Histogram:
    return Histogram(name, documentation, ["provider"], namespace=NS, buckets=buckets)


TTFT = _per_provider(
    "answer_ttft_seconds",
    "Time from the worker's claim to the first published delta",
    (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
DURATION = _per_provider(
    "answer_duration_seconds",
    "Time from the worker's claim to the answer's end",
    (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
TOKENS_PER_SECOND = _per_provider(
    "answer_tokens_per_second",
    "Completion tokens per second while streaming",
    (1, 5, 10, 20, 50, 100, 200, 500, 1000),
)
PROVIDER_ERRORS = Counter(
    "provider_errors",
    "Provider failures (each attempt, retried or not) by code and reason",
    ["provider", "code", "reason"],
    namespace=NS,
)
PROVIDER_FALLBACKS = Counter(
    "provider_fallbacks",
    "Answers moved to their next fallback model after a failure before the first token, by "
    "the provider that failed and the provider tried next",
    ["provider", "to"],
    namespace=NS,
)
REAPER_ACTIONS = Counter(
    "reaper_actions",
    "What the stale-stream reaper did",
    ["action"],
    namespace=NS,
)
PAYMENTS = Counter(
    "payments",
    "Payment events by source (verify, webhook) and outcome",
    ["source", "outcome"],
    namespace=NS,
)
MAILS = Counter(
    "mail",
    "Outbox mail by kind (reset, verify, receipt, ...) and what happened to it",
    ["kind", "outcome"],
    namespace=NS,
)
STREAM_MESSAGES = Counter(
    "stream_messages_received",
    "Pub/sub messages a web process received for the streams its sockets follow",
    namespace=NS,
)
DRAIN_ACTIONS = Counter(
    "drain_actions",
    "What a draining process did (sockets told to reconnect, answers ended)",
    ["tier", "action"],
    namespace=NS,
)


def _code(value: object, default: str = "OTHER") -> str:
    """Codes and reasons are from our own vocabulary; anything else is folded into one value."""
    text = str(value or "")
    return text[:40] if text and text.replace("_", "").replace(".", "").isalnum() else default


# -- the one-line hooks ------------------------------------------------------------------------


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def websocket_opened() -> None:
    WEBSOCKETS_OPEN.inc()


def websocket_closed() -> None:
    WEBSOCKETS_OPEN.dec()


@contextlib.contextmanager
def counting_send() -> Iterator[None]:
    """Count one send: accepted, or refused with its error's code (an unexpected failure counts
    as INTERNAL_ERROR)."""
    try:
        yield
    except Exception as exc:
        SENDS.labels("refused", _code(getattr(exc, "code", None), "INTERNAL_ERROR")).inc()
        raise
    SENDS.labels("accepted", "OK").inc()


def provider_of(model_id: str | None) -> str:
    """The catalog's provider for a model (the per-process catalog memory: no round trip)."""
    try:
        return _code(catalog_cache.model(model_id).provider, "unknown")
    except Exception:
        return "unknown"


def answer_ended(model_id: str | None, outcome) -> None:
    """`outcome` is `common.engine.outcomes.Outcome`: status and, when it streamed, timings."""
    provider = provider_of(model_id)
    ANSWERS.labels(provider, _code(outcome.status)).inc()
    if outcome.ttft_ms is not None:
        TTFT.labels(provider).observe(outcome.ttft_ms / 1000)
    if outcome.duration_ms is not None:
        DURATION.labels(provider).observe(outcome.duration_ms / 1000)
    if outcome.tokens_per_second:
        TOKENS_PER_SECOND.labels(provider).observe(outcome.tokens_per_second)


def provider_error(provider: str, exc: Exception) -> None:
    details = getattr(exc, "details", None) or {}
    PROVIDER_ERRORS.labels(
        _code(provider, "unknown"), _code(getattr(exc, "code", "")), _code(details.get("reason"))
    ).inc()


def provider_fallback(failed: str, to: str) -> None:
    PROVIDER_FALLBACKS.labels(_code(failed, "unknown"), _code(to, "unknown")).inc()


def reaper_swept(counts: dict[str, int]) -> None:
    for action, n in counts.items():
        if n:
            REAPER_ACTIONS.labels(_code(action)).inc(n)


def payment_event(source: str, outcome: str) -> None:
    PAYMENTS.labels(_code(source), _code(outcome)).inc()


def mail_event(kind: str, outcome: str) -> None:
    """queued, sent, retry, failed, expired."""
    MAILS.labels(_code(kind), _code(outcome)).inc()


def stream_message_received() -> None:
    STREAM_MESSAGES.inc()


def drained(tier: str, action: str, n: int = 1) -> None:
    if n:
        DRAIN_ACTIONS.labels(tier, action).inc(n)


# -- reading at scrape time -----------------------------------------------------------------------


class FleetCollector:
    """Holds and queue depth, read from MongoDB and Redis on each scrape (never raises)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            f"{NS}_collector_up", "Whether a scrape-time reading succeeded", labels=["reading"]
        )
        for name, read in (("holds", self._holds), ("queues", self._queues)):
            try:
                yield from read()
                up.add_metric([name], 1)
            except Exception as exc:
                log.warning("metrics reading %s failed: %s", name, exc)
                up.add_metric([name], 0)
        yield up

    @staticmethod
    def _holds() -> Iterable[GaugeMetricFamily]:
        holds, held = wallet.held_totals()
        yield GaugeMetricFamily(f"{NS}_holds_open", "Wallet holds open now", value=holds)
        yield GaugeMetricFamily(f"{NS}_tokens_held", "Tokens held by open holds", value=held)

    @staticmethod
    def _queues() -> Iterable[GaugeMetricFamily]:
        broker = _broker_redis()
        depth = GaugeMetricFamily(
            f"{NS}_queue_depth", "Tasks waiting in each Celery queue", labels=["queue"]
        )
        pipe = broker.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(queue)
            for priority in (3, 6, 9):
                pipe.llen(f"{queue}{_PRIORITY_SEP}{priority}")
        lengths = pipe.execute()
        for i, queue in enumerate(QUEUES):
            depth.add_metric([queue], sum(lengths[i * 4 : i * 4 + 4]))
        yield depth


_broker: dict = {}
_broker_lock = threading.Lock()


def _broker_redis():
    import redis

    url = get_settings().broker_url
    with _broker_lock:
        if _broker.get("url") != url:
            _broker.update(url=url, client=redis.Redis.from_url(url, socket_timeout=2))
        return _broker["client"]


# -- exposition ---------------------------------------------------------------------------------


def exposition(fleet: bool) -> tuple[bytes, str]:
    """The text format for one scrape: this tier's metrics, plus the fleet readings if asked."""
    if get_settings().prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    if not fleet:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    combined = CollectorRegistry()
    combined.register(_Union(registry))
    combined.register(FleetCollector())
    return generate_latest(combined), CONTENT_TYPE_LATEST


class _Union:
    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def token_ok(header: str | None) -> bool:
    """`Authorization: Bearer <METRICS_TOKEN>`, compared in constant time."""
    token = get_settings().metrics_token
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


def allowed(authorization: str | None, remote_addr: str | None) -> tuple[bool, int]:
    """Whether a scrape may read the metrics: (ok, status to refuse with).

    With METRICS_TOKEN set, only a request bearing it (401 otherwise); without one, only a
    loopback client (403 otherwise), so an unconfigured deployment never publishes them.
    """
    if get_settings().metrics_token:
        return token_ok(authorization), 401
    return remote_addr in ("127.0.0.1", "::1", "::ffff:127.0.0.1"), 403


# -- the worker's own endpoint --------------------------------------------------------------------


def serve(port: int, bind: str) -> threading.Thread:
    """Serve this process's metrics on `bind:port` (`GET /metrics`) under the same rules."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class _Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # scrapes every few seconds: not worth a log line each
            pass

    server = make_server(bind, port, _worker_app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    log.info("worker metrics on http://%s:%s/metrics", bind, server.server_port)
    return thread


def _worker_app(environ, start_response):
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    ok, refuse = allowed(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"))
    if not ok:
        start_response(f"{refuse} {'Unauthorized' if refuse == 401 else 'Forbidden'}", [])
        return [b""]
    body, content_type = exposition(fleet=False)
    start_response("200 OK", [("Content-Type", content_type)])
    return [body]
