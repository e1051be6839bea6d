"""The resume file: by channel, the last sequence number a program has handled.

It is read once when a subscription starts and rewritten after each handled event, so
that a program that restarts carries on where it stopped. With verification on (the
default) it also keeps what the client has verified: the log's key, and by channel the
last signed checkpoint and the compact range of the events handled (see client.audit)::

    {"after": {"water-roads": 41},
     "audit": {"log_key": "hotline.localhost+1a2b3c4d+AW…",
               "channels": {"water-roads": {"checkpoint": "…", "range": {…}}}}}
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from client.errors import HotlineError

__all__ = ["ResumeFile"]


class ResumeFile:
    """A resume file at ``path``, rewritten atomically and off the event loop.

    Writing means an ``fsync``, which may take milliseconds on a busy disk: too long to
    hold up the event loop, where the socket must keep being read, so it happens in a
    worker thread.

    Args:
        path: the file; it need not exist yet.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one writer at a time: they share a temporary file
        self._asked = 0  # how many saves were asked for (on the event loop)
        self._written = 0  # the number of the save now in the file (under the lock)

    def load(self) -> dict[str, int]:
        """The positions in the file; a missing file means nothing handled yet.

        Raises:
            HotlineError: the file cannot be read, or this client did not write it.
        """
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise HotlineError(f"cannot read the resume file {self.path}: {exc}") from exc
        after = found.get("after") if isinstance(found, dict) else None
        if not isinstance(after, dict) or not all(
            isinstance(seq, int) and seq >= 0 for seq in after.values()
        ):
            raise HotlineError(f"{self.path} is not a resume file this client wrote")
        return {str(channel): seq for channel, seq in after.items()}

    def load_audit(self) -> dict[str, Any]:
        """The ``audit`` section: the verified log key and checkpoints; empty if none."""
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        audit = found.get("audit") if isinstance(found, dict) else None
        return audit if isinstance(audit, dict) else {}

    async def save(
        self, positions: Mapping[str, int], audit: Mapping[str, Any] | None = None
    ) -> None:
        """Rewrite the file with ``positions`` (and ``audit``); returns once on disk.

        Raises:
            OSError: the file cannot be written.
        """
        self._asked += 1
        content: dict[str, Any] = {"after": dict(sorted(positions.items()))}
        if audit is not None:
            content["audit"] = dict(audit)
        await asyncio.to_thread(self._write, content, self._asked)

    def _write(self, content: dict[str, Any], number: int) -> None:
        # A caller cancelled while waiting leaves its write running, so two may overlap,
        # and the older may get the lock last: it must not undo the newer one.
        with self._lock:
            if number < self._written:
                return
            _replace(self.path, json.dumps(content, indent=2))
            self._written = number


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a crash leaves the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(text + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
