"""Where a webhook may call: the rules for its URL and for the addresses its host names.

A webhook makes the server send requests to an address somebody typed in. Left
unguarded, that is a way into the server's own network (*server-side request forgery*):
``http://169.254.169.254/`` is a cloud's metadata service, ``http://10.0.0.5:9200/`` a
database nobody meant to expose. So a webhook may call only:

- a URL that is ``http`` or ``https``, with a host and no user name or password in it;
- whose host resolves, every address of it, to a *public* address: not loopback,
  private, link-local, site-local, multicast, unspecified, reserved, set aside by the
  IANA special-purpose registries or otherwise not globally routable, nor an IPv6
  address that carries such an IPv4 address inside it
  (IPv4-mapped ``::ffff:10.0.0.1``, NAT64 ``64:ff9b::a00:1``, 6to4 ``2002:a00:1::``);
- unless the server's administrator allowed that address's network
  (``HOTLINE_WEBHOOK_ALLOW_NETWORKS``; the tests allow loopback).

*Every* address must pass, not just one: a name with one public and one private
address could otherwise be steered to the private one. The check runs when a
subscription is made or changed, and again before every call, whose connection then goes
to the very address checked (``server/service/webhook_sender.py``), so a name that
resolves differently the second time (DNS rebinding) gains nothing.

This module decides; it resolves nothing and connects nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import SplitResult, urlsplit

from server.domain.errors import Invalid

__all__ = [
    "MAX_URL",
    "Destination",
    "IPAddress",
    "IPNetwork",
    "WebhookAddressRefused",
    "check_addresses",
    "parse_url",
    "refusal",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

MAX_URL = 2000
"""The longest webhook URL accepted, in characters (what every HTTP stack handles)."""

_NAT64 = IPv6Network("64:ff9b::/96")
"""The well-known NAT64 prefix: the last 32 bits are an IPv4 address a gateway calls."""

_SPECIAL: tuple[tuple[IPNetwork, str], ...] = (
    (IPv4Network("192.0.0.0/24"), "special-purpose (IETF protocol assignments)"),
    (IPv4Network("192.88.99.0/24"), "deprecated 6to4 relay"),
    (IPv6Network("fec0::/10"), "site-local"),
    (IPv6Network("64:ff9b:1::/48"), "local-use NAT64"),
    (IPv6Network("3fff::/20"), "documentation"),
    (IPv6Network("5f00::/16"), "segment routing (SRv6)"),
)
"""Networks of the IANA special-purpose registries that Python 3.11's ``is_global`` calls
public, or that later versions might: named here so that the guard does not move with
Python's tables. ``192.0.0.0/24`` whole, although two of its anycast services are
routable: nothing a webhook should call. The rest of the registries (shared address
space ``100.64.0.0/10``, benchmarking ``198.18.0.0/15``, ``240.0.0.0/4``, documentation
``2001:db8::/32``, Teredo, ORCHID…) Python marks private, reserved or not global; the
unit tests check each."""


class WebhookAddressRefused(Invalid):
    """A webhook URL the server will not call: its form, or where its host leads."""

    code = "webhook-address-refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="url")


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook URL taken apart: what to resolve, and what to ask for once connected."""

    scheme: str
    """``http`` or ``https``."""
    host: str
    """The host as resolved and as sent in ``Host`` (and TLS's SNI): lower case, ASCII
    (an internationalised name in its IDNA form), an IPv6 address without brackets."""
    port: int
    target: str
    """The path and query, as written (``/`` when the URL has no path)."""

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the host, and the port unless it is the scheme's own."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url_at(self, address: IPAddress) -> str:
        """The URL with the host replaced by ``address``: where the request connects."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.target}"

    @property
    def host_is_address(self) -> bool:
        """Whether the URL names an IP address rather than a host name."""
        try:
            ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_url(url: str) -> Destination:
    """Check a webhook URL's form and take it apart; nothing is resolved.

    Raises:
        WebhookAddressRefused: not ``http``/``https``, no host, a user name or password
            in it, a fragment, a bad port, or longer than :data:`MAX_URL`.
    """
    if len(url) > MAX_URL:
        raise WebhookAddressRefused(f"a webhook URL is at most {MAX_URL} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise WebhookAddressRefused("a webhook URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookAddressRefused(f"not a URL the server can call: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise WebhookAddressRefused("a webhook URL starts with http:// or https://")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and in the delivery log; and the signature
        # already tells the receiver who calls.
        raise WebhookAddressRefused("a webhook URL may not hold a user name or password")
    if parts.fragment or url.endswith("#"):
        raise WebhookAddressRefused("a webhook URL has no #fragment (it is never sent)")
    host = _host(parts)
    default = 443 if scheme == "https" else 80
    return Destination(
        scheme=scheme,
        host=host,
        port=default if port is None else port,
        target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )


def _host(parts: SplitResult) -> str:
    host = parts.hostname  # lower case, brackets of an IPv6 address removed
    if not host:
        raise WebhookAddressRefused("a webhook URL names a host")
    if "%" in host:
        raise WebhookAddressRefused("a webhook URL may not name an interface (zone id)")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookAddressRefused(f"{host!r} is not a valid host name") from None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where it stands for one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _kind(address: IPAddress) -> str | None:
    """Why an address is not public, or ``None`` if it is."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    for network, kind in _SPECIAL:
        if address.version == network.version and address in network:
            return kind
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def refusal(address: IPAddress, *, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Why the server may not call ``address``, or ``None`` if it may.

    Args:
        address: one address a webhook's host resolved to.
        allow: networks the administrator allowed although they are not public.
    """
    inner = _embedded_v4(address) if isinstance(address, IPv6Address) else None
    candidates = [address] if inner is None else [address, inner]
    if any(a in network for a in candidates for network in allow if a.version == network.version):
        return None
    if inner is not None:
        # An IPv6 wrapper around an IPv4 address is judged by the address inside it.
        why = _kind(inner)
        return None if why is None else f"{address} stands for {inner}, a {why} address"
    why = _kind(address)
    return None if why is None else f"{address} is a {why} address"


def check_addresses(
    destination: Destination, addresses: Iterable[IPAddress], *, allow: Sequence[IPNetwork] = ()
) -> tuple[IPAddress, ...]:
    """Check every address a webhook's host resolved to; return them, in order, once each.

    Raises:
        WebhookAddressRefused: there are none, or any one of them is refused.
    """
    found = tuple(dict.fromkeys(addresses))
    if not found:
        raise WebhookAddressRefused(f"{destination.host} does not resolve to any address")
    for address in found:
        why = refusal(address, allow=allow)
        if why is not None:
            where = "" if destination.host_is_address else f"{destination.host} resolves to "
            raise WebhookAddressRefused(
                f"{where}{why}; webhooks call public addresses only, unless the server's "
                "HOTLINE_WEBHOOK_ALLOW_NETWORKS allows it"
            )
    return found
