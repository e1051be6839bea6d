"""Settings, from ``HOTLINE_*`` environment variables or command-line flags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
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
