"""Resolve a webhook's host and check every address it gives (``server/domain/address_guard.py``).

Resolving is the one part of the guard that waits for the network, so it is here and not
in the domain. ``getaddrinfo`` runs in the event loop's thread pool (``loop.getaddrinfo``),
under a time limit: a name server that does not answer holds up one call, not the server.

A host written as an address is not resolved at all: it is its own answer. The sender
remembers a name's answer for a few seconds (:class:`RecentAnswers`), since a busy
channel calls the same receiver many times a second and each trip to the thread pool
costs more CPU than the call's own HTTP. What is remembered is only what the name
resolved to: every address is still checked at every call, and the call still connects
to an address it checked.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address

from server.config import Settings
from server.domain.address_guard import (
    Destination,
    IPAddress,
    IPNetwork,
    WebhookAddressRefused,
    check_addresses,
    parse_url,
)

__all__ = ["Checked", "Guard", "RecentAnswers", "Resolver", "Unresolved", "resolve"]

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""Finds the addresses of a host (a test passes one of its own)."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to, for TCP, in the resolver's order.

    Raises:
        OSError: it does not resolve (``socket.gaierror``).
    """
    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    # sockaddr[0] is the address as text; an IPv6 one may carry a zone ("fe80::1%eth0").
    return [ip_address(str(sockaddr[0]).partition("%")[0]) for *_, sockaddr in found]


class RecentAnswers:
    """A resolver that remembers each answer of another for a few seconds.

    Only answers are remembered, not failures: a name that did not resolve is asked again
    at the next call. At most ``size`` names are kept, the least recently asked for
    forgotten first.

    Args:
        resolver: the resolver asked when a name's answer is not remembered (any more).
        seconds: how long an answer is remembered.
        size: how many names' answers are kept.
        clock: seconds from a fixed point (a test's clock).
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        seconds: float = 5.0,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolver = resolver
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._answers: OrderedDict[tuple[str, int], tuple[float, tuple[IPAddress, ...]]] = (
            OrderedDict()
        )

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``, as the resolver gave them at most ``seconds`` ago.

        Raises:
            OSError: it does not resolve (whatever the resolver raises).
        """
        key = (host, port)
        now = self.clock()
        found = self._answers.get(key)
        if found is not None and now < found[0]:
            self._answers.move_to_end(key)
            return list(found[1])
        addresses = await self.resolver(host, port)
        self._answers[key] = (now + self.seconds, tuple(addresses))
        self._answers.move_to_end(key)
        if len(self._answers) > self.size:
            self._answers.popitem(last=False)
        return addresses


@dataclass(frozen=True, slots=True)
class Checked:
    """A webhook URL whose every address passed the guard."""

    destination: Destination
    addresses: tuple[IPAddress, ...]
    """Where the call may connect, in the resolver's order."""


@dataclass(frozen=True, slots=True)
class Guard:
    """The address guard as this server applies it: its allowed networks and resolver."""

    allow: Sequence[IPNetwork] = ()
    """Networks allowed although not public (``HOTLINE_WEBHOOK_ALLOW_NETWORKS``)."""
    timeout: float = 5.0
    """Seconds the resolver may take."""
    resolver: Resolver = field(default=resolve)

    @classmethod
    def from_settings(cls, settings: Settings, *, resolver: Resolver = resolve) -> Guard:
        """The guard that ``settings`` configure."""
        return cls(
            allow=tuple(settings.webhook_allow_networks),
            timeout=settings.webhook_timeout_seconds,
            resolver=resolver,
        )

    async def check(self, url: str) -> Checked:
        """Check a URL's form, resolve its host, and check every address.

        Raises:
            WebhookAddressRefused: the URL's form, a host that does not resolve (in time),
                or any address that is not allowed.
        """
        destination = parse_url(url)
        addresses = await self.addresses(destination)
        return Checked(destination, check_addresses(destination, addresses, allow=self.allow))

    async def addresses(self, destination: Destination) -> list[IPAddress]:
        """Resolve a destination's host, not yet checked; an address is its own answer.

        Raises:
            Unresolved: it does not resolve, or not in time.
        """
        host = destination.host
        try:
            return [ip_address(host)]
        except ValueError:
            pass  # a name
        try:
            async with asyncio.timeout(self.timeout):
                return await self.resolver(host, destination.port)
        except TimeoutError:
            raise Unresolved(f"{host} did not resolve in {self.timeout:g} s") from None
        except (OSError, UnicodeError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise Unresolved(f"{host} does not resolve: {why}") from None


class Unresolved(WebhookAddressRefused):
    """A webhook's host does not resolve: refused at subscription, tried again at a call
    (a name server's trouble may pass)."""
