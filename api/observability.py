"""What an operator watches (a pure ASGI middleware and a metrics registry, no dependency):

- every request gets a request id (the client's ``X-Request-ID`` if it sent a sane one, else a new
  one), echoed in the response and written with the request as one JSON log line on the
  ``gridmap.access`` logger (method, route, status, duration, client, request id);
- Prometheus counters and latency histograms per route template and status, kept per process
  (the ``process`` label tells the workers apart; Prometheus sums them), plus gauges the
  ``/metrics`` route reads at scrape time (locator generation and build time, case backlog,
  escalation runs).
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("gridmap.access")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.escalation_runs = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            counts = self.latency[(method, route)]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1  # +Inf
            self.latency_sum[(method, route)] += seconds

    def exposition(self, gauges: dict[str, tuple[str, float]],
                   counters: dict[str, tuple[str, float]] | None = None) -> str:
        """The Prometheus text format (version 0.0.4): ``gauges`` and ``counters`` (help, value)
        read at scrape time beside the request metrics."""
        pid = str(os.getpid())
        lines = ["# HELP gridmap_requests_total HTTP requests by route template and status.",
                 "# TYPE gridmap_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'gridmap_requests_total{{method="{method}",route="{_esc(route)}",'
                             f'status="{status}",process="{pid}"}} {n}')
            lines += ["# HELP gridmap_request_seconds Request latency by route template.",
                      "# TYPE gridmap_request_seconds histogram"]
            for (method, route), counts in sorted(self.latency.items()):
                labels = f'method="{method}",route="{_esc(route)}",process="{pid}"'
                for bound, n in zip((*BUCKETS, "+Inf"), counts, strict=True):
                    lines.append(f'gridmap_request_seconds_bucket{{{labels},le="{bound}"}} {n}')
                total = self.latency_sum[(method, route)]
                lines.append(f"gridmap_request_seconds_sum{{{labels}}} {total:.6f}")
                lines.append(f"gridmap_request_seconds_count{{{labels}}} {counts[-1]}")
            lines += ["# HELP gridmap_escalation_runs_total Escalation runs of this process.",
                      "# TYPE gridmap_escalation_runs_total counter",
                      f'gridmap_escalation_runs_total{{process="{pid}"}} {self.escalation_runs}']
        for kind, metrics in (("counter", counters or {}), ("gauge", gauges)):
            for name, (help_text, value) in metrics.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}",
                          f'{name}{{process="{pid}"}} {value}']
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Observe:
    """Request id, access log line, metrics — around every request."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics
        # request ids: a random prefix per process and a counter — unique without a system
        # call per request (uuid4 reads the kernel's random source every time)
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count()

    def _next_id(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _REQUEST_ID.match(sent) else self._next_id()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            self.metrics.observe(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(json.dumps({
                    "request_id": request_id, "method": scope["method"], "route": route,
                    "path": scope.get("path"), "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "client": client[0] if client else None}, ensure_ascii=False))


class BufferedLines(logging.Handler):
    """Log lines written in batches: collected in memory and written to the stream every
    ``interval`` seconds (or sooner once ``limit`` lines wait), by one daemon thread, and at exit.

    A line per request written straight to standard error is a system call per request on the
    hot path (and, with several workers on one file or pipe, contention between them) — a fifth
    of ``GET /v1/locate``'s throughput measured. Batching is what nginx's ``access_log …
    buffer= flush=`` does; a crash loses at most ``interval`` seconds of access lines."""

    def __init__(self, stream=None, interval: float = 0.2, limit: int = 512):
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.interval, self.limit = interval, limit
        self._lines: list[str] = []
        self._wake = threading.Event()
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="gridmap-access-log", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)
            return
        if len(self._lines) >= self.limit:
            self._wake.set()

    def flush(self) -> None:
        with self.lock:  # emit runs under this lock too (logging.Handler.handle takes it)
            lines, self._lines = self._lines, []
        if lines:
            with self._writing:  # the writer thread and the exit hook, one at a time
                try:
                    self.stream.write("\n".join(lines) + "\n")
                    self.stream.flush()
                except (OSError, ValueError):  # a closed stream at exit
                    pass

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()


def json_access_log() -> None:
    """Access log lines (already JSON) to standard error, in batches, once per process. Also
    silences uvicorn's own access line however the server was started (``gridmap serve`` turns it
    off too): it would log every request twice, query strings — personal numbers — included."""
    logging.getLogger("uvicorn.access").disabled = True
    if not access_log.handlers:
        handler = BufferedLines()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
