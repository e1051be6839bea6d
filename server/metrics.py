"""What ``GET /metrics`` exposes, in the Prometheus text format.

Each app has its own registry (made in ``create_app``, never at import time), so two apps
in one process, as in the tests, count separately.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from client.protocol import schemas

__all__ = ["Metrics"]

# From half a millisecond (a socket on the same machine) to ten seconds (a queue backing up).
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The server's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "hotline_websocket_connections",
            "Authenticated WebSocket connections open now.",
            registry=self.registry,
        )
        self.events_pushed = Counter(
            "hotline_events_pushed",
            "Events written to WebSocket clients (live and catch-up).",
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "hotline_delivery_seconds",
            "From an event's server time to its push on a socket, for live events.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.too_slow_closes = Counter(
            "hotline_websocket_too_slow_closes",
            "Sockets closed with 4429 because their queue was full.",
            registry=self.registry,
        )
        self.revoked_closes = Counter(
            "hotline_websocket_revoked_closes",
            "Sockets closed with 4401 because their token was revoked.",
            registry=self.registry,
        )

    def pushed_live(self, event: schemas.Event) -> None:
        """Count a live event written to a socket and how long it took to get there."""
        self.events_pushed.inc()
        self.delivery_seconds.observe(max(0.0, time.time() - event.at.timestamp()))
