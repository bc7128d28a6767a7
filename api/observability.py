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

import json
import logging
import os
import re
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

    def exposition(self, gauges: dict[str, tuple[str, float]]) -> str:
        """The Prometheus text format (version 0.0.4)."""
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
        for name, (help_text, value) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
                      f'{name}{{process="{pid}"}} {value}']
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Observe:
    """Request id, access log line, metrics — around every request."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
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


def json_access_log() -> None:
    """Access log lines (already JSON) to standard error, once per process."""
    if not access_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
