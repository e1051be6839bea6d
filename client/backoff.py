"""How long to wait before trying again, for REST retries and socket reconnections."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before trying again: exponential, capped, with full jitter.

    Full jitter (a uniform draw between zero and the exponential delay) keeps a crowd of
    clients that lost the same server from all coming back at the same instant.
    """

    base: float = 0.1
    """The delay bound, in seconds, after the first failure."""
    cap: float = 5.0
    """The largest delay bound, in seconds."""
    factor: float = 2.0
    """How much the bound grows after each further failure."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (counting from 0)."""
        bound = min(self.cap, self.base * self.factor ** min(attempt, 64))
        return random.uniform(0, bound)  # noqa: S311 - spreading retries, not a secret
