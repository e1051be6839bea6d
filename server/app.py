"""The application factory: ``create_app(settings)`` builds everything; importing builds nothing."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from server.api import asyncapi, cors, docs, outgoing, problems, unavailable, web, websocket
from server.api.middleware import RequestContext
from server.api.routes import attachments, channels, health, metrics, notices, operators, webhooks
from server.api.routes import checks as check_routes
from server.api.routes import keys as key_routes
from server.api.routes import log as log_routes
from server.api.routes import policy as policy_routes
from server.clock import Clock
from server.cluster import Relay
from server.config import Settings
from server.domain.outbox import MailSwitch
from server.fanout import Hub, LocalFanout
from server.keys import LogKeys
from server.metrics import Metrics
from server.secrets import SecretBox
from server.service import access
from server.service import log as log_service
from server.service.deliveries import Deliverer, Sender
from server.service.mail import MailSender
from server.service.scheduler import Scheduler
from server.service.webhooks import WebhookSender
from server.store.availability import log_failure
from server.store.db import Database

__all__ = ["DELIVERIES_STOP_SECONDS", "create_app"]

log = logging.getLogger(__name__)

DELIVERIES_STOP_SECONDS = 5.0
"""How long a server shutting down waits for the deliveries being sent to be answered."""

DESCRIPTION = """\
Two organisations give each other notice of what they plan to do; the other side's
operators acknowledge or object; deadlines are watched; every change of state is an event
in the channel's ordered, append-only log.

Authenticate with an operator's bearer token: `Authorization: Bearer hl_…`.
Errors are RFC 9457 problem details (`application/problem+json`).
"""


async def _watch_revocations(db: Database, hub: Hub, every: float) -> None:
    """Close the sockets of tokens revoked by any process, looking every ``every`` seconds.

    Each look asks only about the tokens this process's sockets use, by primary key: no
    clocks to compare, and a socket that opened a moment ago is in the next look. None is
    made while no socket is open.
    """
    while True:
        try:
            held = hub.token_ids()
            if held:
                hub.revoke(await access.revoked_among(db, held))
        except Exception as error:  # retried on the next tick; the server stays up
            log_failure(log, "the revocation watch", error)
        await asyncio.sleep(every)


def _senders(
    settings: Settings, database: Database, fanout: LocalFanout, secrets: SecretBox
) -> tuple[WebhookSender, dict[str, Sender]]:
    """Who sends each kind of delivery from this process; mail only where SMTP is set.

    Also tells the writer whether to queue mail at all: with no SMTP server here, no mail
    is written to the outbox (nothing would ever send it).

    Returns:
        The webhook sender (its connections are closed at shutdown), and every sender by kind.
    """
    webhooks = WebhookSender(database, settings, secrets, fanout)
    senders: dict[str, Sender] = {"webhook": webhooks}
    if settings.smtp_host is not None:
        offline_after = timedelta(seconds=settings.mail_offline_after_seconds)
        database.writer.mail = MailSwitch(offline_after=offline_after)
        senders["mail"] = MailSender(database, settings, fanout.hub)
    return webhooks, senders


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration; read from the environment when omitted.
        db: a database to use instead of one made from ``settings.database_url``
            (the caller then owns it and its schema).
        clock: the time every command and the scheduler read, instead of the system's
            (set on the database; tests move it by hand).
        rng: where the delivery worker draws its retry waits (tests seed one).

    Returns:
        The FastAPI application. Its lifespan grows any Merkle tree that lags its log,
        runs the scheduler (``server/service/scheduler.py``), the delivery worker
        (``server/service/deliveries.py``), the relay of what other processes commit
        (``server/cluster.py``) and the revocation watcher, and closes the database it made.

    Raises:
        KeyFileError: the signing key file cannot be used.
        SecretsError: the secrets key file cannot be used.
    """
    settings = settings or Settings()
    database = db or Database(settings.database_url)
    if clock is not None:
        database.clock = clock
    keys = LogKeys.load_or_create(settings.log_key_file, name=settings.log_name)
    checkpoints = log_service.Checkpoints(keys)
    fanout = LocalFanout(Hub(checkpoints))
    relay = Relay(
        database,
        fanout.hub,
        heal_every=settings.fanout_heal_seconds,
        heartbeat_every=settings.presence_heartbeat_seconds,
    )
    scheduler = Scheduler(database, fanout, every=settings.deadline_check_seconds)
    meters = Metrics()
    secrets = SecretBox.load_or_create(settings.secrets_key_file)
    webhook_sender, senders = _senders(settings, database, fanout, secrets)
    deliverer = Deliverer(database, senders, settings=settings, metrics=meters, rng=rng)
    database.writer.courier = deliverer  # what this process commits goes out at once

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await log_service.build_missing(database)
        delivering = asyncio.create_task(deliverer.run(), name="deliveries")
        watchers = [
            asyncio.create_task(scheduler.run(), name="scheduler"),
            delivering,
            asyncio.create_task(relay.run(), name="relay"),
            asyncio.create_task(
                _watch_revocations(database, fanout.hub, settings.revocation_check_seconds),
                name="revocations",
            ),
        ]
        try:
            yield
        finally:
            # The delivery worker finishes the batch it is sending, if it can do so soon:
            # cut off, it would send that batch again after the restart.
            deliverer.stop()
            await relay.goodbye()  # the other processes take this one's operators offline
            await asyncio.wait([delivering], timeout=DELIVERIES_STOP_SECONDS)
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            await webhook_sender.aclose()
            if db is None:
                await database.dispose()

    app = FastAPI(
        title="Hotline",
        version="1",
        summary="An auditable two-party notification channel.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN; docs.install's do not
        redoc_url=None,
        openapi_tags=[
            {"name": "channels", "description": "Who am I, my channels, and their logs."},
            {"name": "notices", "description": "Send, read, receive, decide, cancel."},
            {"name": "policy", "description": "The channel's policy: in force, proposed, agreed."},
            {
                "name": "checks",
                "description": "Liveness checks, answers and each party's availability.",
            },
            {"name": "attachments", "description": "Files a notice carries: upload, download."},
            {
                "name": "webhooks",
                "description": "A party's webhook subscriptions and the delivery log.",
            },
            {"name": "operators", "description": "Operators' own settings: e-mail address."},
            {"name": "log", "description": "Signed checkpoints and Merkle proofs of the logs."},
            {"name": "health", "description": "Liveness and readiness, no token needed."},
            {"name": "operations", "description": "Metrics and the WebSocket protocol."},
        ],
    )
    app.state.db = database
    app.state.settings = settings
    app.state.fanout = fanout
    app.state.relay = relay
    app.state.scheduler = scheduler
    app.state.deliverer = deliverer
    app.state.checkpoints = checkpoints
    app.state.secrets = secrets
    app.state.metrics = meters
    problems.install(app)
    unavailable.install(app)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        max_attachment_bytes=settings.max_attachment_bytes,  # uploads only
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(asyncapi.router)
    app.include_router(channels.router, prefix="/api/v1")
    app.include_router(notices.router, prefix="/api/v1")
    app.include_router(policy_routes.router, prefix="/api/v1")
    app.include_router(check_routes.router, prefix="/api/v1")
    app.include_router(key_routes.router, prefix="/api/v1")
    app.include_router(attachments.router, prefix="/api/v1")
    app.include_router(webhooks.router, prefix="/api/v1")
    app.include_router(operators.router, prefix="/api/v1")
    app.include_router(log_routes.router, prefix="/api/v1")
    app.include_router(websocket.router, prefix="/api/v1")
    outgoing.install(app)
    docs.install(app)
    web.install(app)
    cors.install(app, settings.cors_origins)

    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problems(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
