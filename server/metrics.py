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
        # The outbox (server/service/deliveries.py), by kind: webhook or mail.
        self.deliveries_sent = Counter(
            "hotline_deliveries_sent",
            "Deliveries this process sent and the receiver accepted.",
            ["kind"],
            registry=self.registry,
        )
        self.deliveries_failed = Counter(
            "hotline_deliveries_failed",
            "Deliveries given up: out of tries, or refused for good (410 Gone, a 5xx SMTP reply).",
            ["kind"],
            registry=self.registry,
        )
        self.deliveries_retried = Counter(
            "hotline_deliveries_retried",
            "Tries that failed and left their delivery waiting for another.",
            ["kind"],
            registry=self.registry,
        )
        self.deliveries_skipped = Counter(
            "hotline_deliveries_skipped",
            "Deliveries with nothing to send (no e-mail address; the notice seen meanwhile).",
            ["kind"],
            registry=self.registry,
        )
        self.deliveries_waiting = Gauge(
            "hotline_deliveries_waiting",
            "Deliveries waiting in the database's outbox (every process's), as this process "
            "last counted them.",
            registry=self.registry,
        )
        for kind in ("webhook", "mail"):  # every series from the start, at zero
            for counter in (
                self.deliveries_sent,
                self.deliveries_failed,
                self.deliveries_retried,
                self.deliveries_skipped,
            ):
                counter.labels(kind=kind)
        self.attachment_bytes = Counter(
            "hotline_attachment_bytes",
            "Bytes of attachments uploaded.",
            registry=self.registry,
        )

    def pushed_live(self, event: schemas.Event) -> None:
        """Count a live event written to a socket and how long it took to get there."""
        self.events_pushed.inc()
        self.delivery_seconds.observe(max(0.0, time.time() - event.at.timestamp()))
