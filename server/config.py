"""Settings, from ``HOTLINE_*`` environment variables or command-line flags."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["ANY_ORIGIN", "Settings"]

ANY_ORIGIN = "*"
"""The ``cors_origins`` entry that allows pages from every origin."""

# What a browser sends in ``Origin``: scheme, host and port, no path, not even "/".
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$")


class Settings(BaseSettings):
    """Everything the server can be told; flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    database_url: str = Field(
        "sqlite:///hotline.db",
        description="sqlite:///path/to/file.db or postgresql://user@host/db",
    )
    log_name: str = Field(
        "hotline.localhost",
        pattern=r"^[^\s+]+$",
        description="The log's name: the signing key's name and the first part of every "
        "checkpoint's origin (`<log name>/<channel>`). A host name you control is best.",
    )
    log_key_file: Path = Field(
        Path("hotline-log.key"),
        description="The checkpoint signing key; made (mode 0600) on first start. Keep it "
        "outside the database and its backups.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins of the web pages that may call the REST API "
        "(`https://app.example.org`), comma-separated or as a JSON list; `*` allows any. "
        "None by default; `hotline demo` allows any.",
    )
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on; 0 picks a free one.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = Field(
        "text", description="`json` writes one JSON object a line."
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    ws_queue_size: int = Field(
        1000, ge=1, description="Messages a socket may fall behind before it is closed (4429)."
    )
    ws_command_queue_size: int = Field(
        1000,
        ge=1,
        description="Commands a socket may have waiting to be carried out; more are refused "
        "(`error` 429 `too-many-commands`) and the socket stays open.",
    )
    ws_deflate: bool = Field(
        False,
        description="Accept WebSocket compression (permessage-deflate) from clients that offer "
        "it. Off, an idle socket costs about a third of the memory (19 KiB, not 61) and each "
        "message less CPU; the messages are small JSON.",
    )
    ws_hello_timeout: float = Field(
        10.0, gt=0, description="Seconds a new socket has to send its `hello`."
    )
    ws_ping_interval: float = Field(
        20.0, gt=0, description="Seconds between WebSocket pings; a peer that misses one is gone."
    )
    ws_max_message_bytes: int = Field(
        65_536, ge=1024, description="Largest WebSocket message accepted (typed error beyond)."
    )
    deadline_check_seconds: float = Field(
        1.0,
        gt=0,
        description="The longest the server's clock waits between two looks for due actions "
        "(missed deadlines, reminders, escalations, liveness checks). It wakes by itself at "
        "the next due time it knows of; this bounds how late it sees one written since (a "
        "notice just sent).",
    )
    revocation_check_seconds: float = Field(
        2.0,
        gt=0,
        description="How often each server process looks for revoked tokens and closes the "
        "WebSockets they opened (4401).",
    )

    # -- several processes, and what one process accepts (docs/explanation/scaling-out.md) -

    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing one port (`hotline serve --workers N`). More "
        "than one needs PostgreSQL: SQLite lets one process write at a time, and its "
        "processes could not tell each other what they committed.",
    )
    fanout_heal_seconds: float = Field(
        1.0,
        gt=0,
        description="How often each process compares the heads of the channels its sockets "
        "watch with the log, to deliver events whose notification it missed (PostgreSQL "
        "`NOTIFY` lost, or, on SQLite, events written by another process on the same file): "
        "the bound on a healed gap.",
    )
    presence_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        description="How often each process tells the others who is connected to it "
        "(PostgreSQL); a process not heard from for three of these counts as gone.",
    )
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Seconds a connection has to send a request's headers, from connecting "
        "(on a kept-alive connection, from the request's first byte); then it is answered "
        "`408` (if it had begun a request) and closed.",
    )
    http_body_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Seconds a request body may go without a byte arriving; then the request "
        "is answered `408` and the connection closed.",
    )
    max_connections: int = Field(
        4000,
        ge=16,
        description="Open connections (HTTP and WebSocket) one process accepts; more are "
        "answered 503 and closed.",
    )
    ws_close_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="Once the server closes a socket (too slow, revoked, …), the seconds it "
        "waits for its close frame to be written, and as long again for the client's answer; "
        "then it resets the connection, dropping whatever was still queued for it.",
    )

    # -- the outbox: mail, webhooks, attachments (docs/explanation/outbox.md) -------------

    smtp_host: str | None = Field(
        None,
        description="The SMTP server that sends the channel's mail (escalations, missed "
        "checks, notices nobody is online to see). Unset: no mail is sent or queued.",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(
        None, description="SMTP password; never logged or shown."
    )
    smtp_starttls: bool = Field(
        True, description="Upgrade the SMTP connection with STARTTLS before logging in."
    )
    smtp_from: str = Field("hotline@localhost", description="The `From` address of mail sent.")
    public_url: str | None = Field(
        None,
        description="The server's address as people reach it (`https://hotline.example.org`), "
        "for the links in mail; `http://<host>:<port>` by default.",
    )
    mail_offline_after_seconds: float = Field(
        60.0,
        ge=0,
        description="Where the channel's policy asks for it (`mail_when_offline`), how long a "
        "notice may wait unseen before its receiving party's operators get a mail; none is "
        "sent if by then it was received or one of them is connected.",
    )
    delivery_check_seconds: float = Field(
        1.0,
        gt=0,
        description="The longest the delivery worker waits between two looks for mail and "
        "webhook calls due (it is woken at once for what this process commits).",
    )
    delivery_attempts: int = Field(
        8, ge=1, le=100, description="Tries of one delivery before it is given up as failed."
    )
    delivery_backoff_seconds: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="The first retry waits up to this long; each later one up to twice the "
        "one before (exponential back-off with full jitter).",
    )
    delivery_backoff_max_seconds: float = Field(
        3600.0, gt=0, le=30 * 86400, description="The longest wait between two tries of a delivery."
    )
    delivery_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a worker holds a delivery it is sending; if it dies, another "
        "(or itself, restarted) sends it once the lease is over.",
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, description="The longest one webhook call may take, connection included."
    )
    webhook_max_response_bytes: int = Field(
        65_536, ge=0, description="How much of a webhook receiver's answer is read at most."
    )
    webhook_allow_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Networks webhooks may call although they are loopback, link-local or "
        "private (`127.0.0.0/8,::1/128`), comma-separated. None by default: webhooks reach "
        "public addresses only.",
    )
    webhook_disable_after: int = Field(
        10,
        ge=1,
        description="Deliveries given up in a row (each after all its tries, "
        "`delivery_attempts`) after which a webhook subscription is disabled (a "
        "`webhook.disabled` event says so in the channel's log); a call that goes through "
        "starts the count again.",
    )
    max_attachment_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        le=100 * 1024 * 1024,
        description="The largest file a notice may carry.",
    )
    attachments_dir: Path = Field(
        Path("hotline-attachments"),
        description="Where attachments are stored, each under its SHA-256; several server "
        "processes must share it.",
    )
    secrets_key_file: Path = Field(
        Path("hotline-secrets.key"),
        description="The key that encrypts webhook secrets in the database; made (mode 0600) "
        "on first start. Keep it outside the database and its backups.",
    )

    @field_validator("webhook_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [ip_network(part.strip()) for part in value.split(",") if part.strip()]

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> Settings:
        # A login without STARTTLS sends the password in clear: only to this very machine.
        clear = self.smtp_host and self.smtp_username and not self.smtp_starttls
        if clear and not _is_loopback(self.smtp_host or ""):
            raise ValueError(
                "HOTLINE_SMTP_STARTTLS=false would send the SMTP password in clear to "
                f"{self.smtp_host}: keep STARTTLS on, or log in only to this machine"
            )
        return self

    def base_url(self) -> str:
        """Where people reach the server: ``public_url``, or ``http://<host>:<port>``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # NoDecode hands the variable over as it is, so both spellings can be read here:
        # `a,b` as people write it, `["a", "b"]` as pydantic-settings writes lists.
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)  # malformed JSON: a ValueError, reported as invalid
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        # Browsers send origins in lower case; one written with a path or a trailing slash
        # would never match, silently, so it is refused here instead.
        checked = [origin.strip().lower() for origin in origins]
        for origin in checked:
            if origin != ANY_ORIGIN and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port] with no path "
                    "and no trailing slash (https://app.example.org), or * for any"
                )
        return checked


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
