"""Request counters and latency histograms, served as Prometheus text at ``GET /metrics``."""

from __future__ import annotations

import threading
from collections import defaultdict

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """In-process counters; one instance per app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(_BUCKETS))
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self.runs_started = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            buckets = self._buckets[route]
            for index, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def text(self) -> str:
        """The Prometheus exposition format (version 0.0.4)."""
        lines = [
            "# HELP insightflow_http_requests_total HTTP requests by method, route and status.",
            "# TYPE insightflow_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), count in sorted(self._requests.items()):
                lines.append(f'insightflow_http_requests_total{{method="{method}",route="{route}",'
                             f'status="{status}"}} {count}')
            lines += [
                "# HELP insightflow_http_request_seconds Request latency by route.",
                "# TYPE insightflow_http_request_seconds histogram",
            ]
            for route in sorted(self._count):
                for bound, count in zip(_BUCKETS, self._buckets[route], strict=True):
                    lines.append(f'insightflow_http_request_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
                lines.append(f'insightflow_http_request_seconds_bucket{{route="{route}",le="+Inf"}} {self._count[route]}')
                lines.append(f'insightflow_http_request_seconds_sum{{route="{route}"}} {self._sum[route]:.6f}')
                lines.append(f'insightflow_http_request_seconds_count{{route="{route}"}} {self._count[route]}')
            lines += [
                "# HELP insightflow_runs_started_total Pipeline runs started through the API.",
                "# TYPE insightflow_runs_started_total counter",
                f"insightflow_runs_started_total {self.runs_started}",
            ]
        return "\n".join(lines) + "\n"
