"""The address guard: which webhook URLs and which addresses the server will call, and how
the server resolves their hosts (an address is its own answer; a name's is remembered briefly)."""

from __future__ import annotations

import socket
from ipaddress import ip_address, ip_network

import pytest

from server.domain.address_guard import (
    MAX_URL,
    IPAddress,
    WebhookAddressRefused,
    check_addresses,
    parse_url,
    refusal,
)
from server.service.destinations import Guard, RecentAnswers, Unresolved

LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_a_public_address_may_be_called(address: str) -> None:
    assert refusal(ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # a cloud's metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff0e::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address refused, not bound
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved for future use: not routable either
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation
    ],
)
def test_an_address_that_is_not_public_is_refused_saying_what_it_is(
    address: str, kind: str
) -> None:
    why = refusal(ip_address(address))

    assert why is not None
    assert f"a {kind} address" in why


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        # Python 3.11 calls these public.
        ("fec0::1", "site-local"),  # deprecated, but still routed inside some sites
        ("192.0.0.8", "special-purpose"),  # IPv4 dummy address
        ("192.0.0.9", "special-purpose"),  # port control protocol anycast
        ("192.0.0.170", "special-purpose"),  # NAT64 discovery
        ("192.88.99.1", "deprecated 6to4 relay"),
        ("3fff::1", "documentation"),  # since 2024
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("5f00::1", "segment routing"),
    ],
)
def test_a_special_purpose_address_python_may_call_public_is_refused(
    address: str, kind: str
) -> None:
    why = refusal(ip_address(address))

    assert why is not None
    assert kind in why


@pytest.mark.parametrize(
    "address",
    [
        # IANA's IPv4 special-purpose registry
        "0.1.2.3",  # "this network"
        "100.64.0.1",  # shared address space
        "100.127.255.254",
        "192.0.0.255",  # the last of the IETF protocol assignments
        "198.18.0.1",  # benchmarking
        "198.19.255.254",
        "198.51.100.7",  # documentation
        "203.0.113.7",
        "240.0.0.1",  # reserved
        "255.255.255.255",  # limited broadcast
        # IANA's IPv6 special-purpose registry
        "::ffff:0:a00:1",  # IPv4-translated
        "::1.2.3.4",  # IPv4-compatible, deprecated
        "100::1",  # discard-only
        "2001::1",  # Teredo
        "2001:2::1",  # benchmarking
        "2001:20::1",  # ORCHIDv2
        "2001:db8::1",  # documentation
        "fd12:3456::1",  # unique local
        "ff02::1",  # multicast, link scope
    ],
)
def test_every_address_the_special_purpose_registries_set_apart_is_refused(
    address: str,
) -> None:
    assert refusal(ip_address(address)) is not None


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("64:ff9b::c000:8", "192.0.0.8"),  # NAT64 of a special-purpose address
        ("64:ff9b::6440:1", "100.64.0.1"),  # NAT64 of shared address space
        ("2002:c612:1::", "198.18.0.1"),  # 6to4 of benchmarking
        ("2002:a00:5::", "10.0.0.5"),  # 6to4 of a private address
    ],
)
def test_nat64_and_6to4_are_judged_by_the_ipv4_address_they_embed(address: str, inner: str) -> None:
    why = refusal(ip_address(address))

    assert why is not None
    assert f"stands for {inner}" in why


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1"])
def test_nat64_and_6to4_of_a_public_ipv4_address_may_be_called(address: str) -> None:
    assert refusal(ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("64:ff9b::a00:1", "10.0.0.1"),  # NAT64
        ("2002:a9fe:a9fe::", "169.254.169.254"),  # 6to4
    ],
)
def test_an_ipv6_address_carrying_a_private_ipv4_address_is_refused(
    address: str, inner: str
) -> None:
    why = refusal(ip_address(address))

    assert why is not None
    assert f"stands for {inner}" in why


def test_an_allowed_network_may_be_called_although_it_is_not_public() -> None:
    assert refusal(ip_address("127.0.0.1"), allow=LOOPBACK) is None
    assert refusal(ip_address("::1"), allow=LOOPBACK) is None
    assert refusal(ip_address("::ffff:127.0.0.1"), allow=LOOPBACK) is None
    assert refusal(ip_address("10.0.0.1"), allow=LOOPBACK) is not None


def test_every_address_of_a_host_must_pass_not_just_one() -> None:
    destination = parse_url("https://hooks.example/")
    addresses = [ip_address("8.8.8.8"), ip_address("10.0.0.1")]

    with pytest.raises(WebhookAddressRefused, match=r"10\.0\.0\.1 is a private address"):
        check_addresses(destination, addresses)


def test_the_addresses_checked_are_returned_once_each_in_order() -> None:
    destination = parse_url("https://hooks.example/")
    addresses = [ip_address("8.8.8.8"), ip_address("1.1.1.1"), ip_address("8.8.8.8")]

    assert check_addresses(destination, addresses) == (
        ip_address("8.8.8.8"),
        ip_address("1.1.1.1"),
    )


def test_a_host_with_no_address_is_refused() -> None:
    with pytest.raises(WebhookAddressRefused, match="does not resolve"):
        check_addresses(parse_url("https://hooks.example/"), [])


def test_the_refusal_is_a_422_problem_about_the_url() -> None:
    with pytest.raises(WebhookAddressRefused) as refused:
        parse_url("ftp://hooks.example/")

    assert refused.value.code == "webhook-address-refused"
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("hooks.example/events", "http:// or https://"),
        ("https://user:pass@hooks.example/", "user name or password"),
        ("https://user@hooks.example/", "user name or password"),
        ("https:///events", "names a host"),
        ("https://hooks.example/#top", "fragment"),
        ("https://hooks.example:99999/", "not a URL"),
        ("https://hooks.example/ events", "no spaces"),
        ("https://hooks.example/\x00", "no spaces or control"),
        ("http://[fe80::1%25eth0]/", "interface"),
        ("https://hooks.example/" + "a" * MAX_URL, "at most"),
    ],
)
def test_a_url_of_the_wrong_form_is_refused(url: str, why: str) -> None:
    with pytest.raises(WebhookAddressRefused, match=why):
        parse_url(url)


def test_a_url_is_taken_apart_into_what_to_resolve_and_what_to_ask() -> None:
    destination = parse_url("HTTPS://Hooks.Example/hotline/events?party=water")

    assert destination.scheme == "https"
    assert destination.host == "hooks.example"
    assert destination.port == 443
    assert destination.target == "/hotline/events?party=water"
    assert destination.host_header == "hooks.example"


def test_the_call_connects_to_the_address_checked_and_names_the_host() -> None:
    destination = parse_url("http://hooks.example:8080")

    assert destination.url_at(ip_address("127.0.0.1")) == "http://127.0.0.1:8080/"
    assert destination.url_at(ip_address("::1")) == "http://[::1]:8080/"
    assert destination.host_header == "hooks.example:8080"


def test_an_ipv6_host_and_an_international_name_are_written_as_sent() -> None:
    assert parse_url("http://[2606:4700::1111]:81/").host_header == "[2606:4700::1111]:81"
    assert parse_url("http://[2606:4700::1111]/").host_is_address
    assert parse_url("https://bücher.example/").host == "xn--bcher-kva.example"
    assert not parse_url("https://bücher.example/").host_is_address


# -- the guard as the server applies it: resolving, and remembering answers ----------------


class Resolver:
    """A resolver of the test's: the answers it gives, in turn, and the names asked."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ip_address(a) for a in answer]


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_host_written_as_an_address_is_not_resolved() -> None:
    resolver = Resolver(["10.0.0.1"])
    guard = Guard(allow=LOOPBACK, resolver=resolver)

    checked = await guard.check("http://127.0.0.1:8080/in")
    checked_v6 = await guard.check("http://[::1]/in")

    assert checked.addresses == (ip_address("127.0.0.1"),)
    assert checked_v6.addresses == (ip_address("::1"),)
    assert resolver.asked == []


async def test_a_host_written_as_a_private_address_is_still_refused() -> None:
    guard = Guard(resolver=Resolver(["8.8.8.8"]))

    with pytest.raises(WebhookAddressRefused, match=r"^10\.0\.0\.7 is a private address"):
        await guard.check("http://10.0.0.7/in")


async def test_a_name_s_answer_is_remembered_for_a_few_seconds_then_asked_again() -> None:
    resolver = Resolver(["8.8.8.8"], ["8.8.4.4"])
    clock = Clock()
    guard = Guard(resolver=RecentAnswers(resolver, seconds=5.0, clock=clock))

    first = await guard.check("https://hooks.example/in")
    clock.now += 4.9
    again = await guard.check("https://hooks.example/other")
    clock.now += 0.2
    later = await guard.check("https://hooks.example/in")

    assert first.addresses == again.addresses == (ip_address("8.8.8.8"),)
    assert later.addresses == (ip_address("8.8.4.4"),)
    assert resolver.asked == [("hooks.example", 443), ("hooks.example", 443)]


async def test_a_remembered_answer_is_checked_again_at_every_call() -> None:
    remembered = RecentAnswers(Resolver(["127.0.0.1"]), clock=Clock())
    allowing = Guard(allow=LOOPBACK, resolver=remembered)
    refusing = Guard(allow=(), resolver=remembered)

    await allowing.check("http://hooks.test/in")

    with pytest.raises(WebhookAddressRefused, match=r"hooks\.test resolves to 127\.0\.0\.1"):
        await refusing.check("http://hooks.test/in")


async def test_a_name_that_does_not_resolve_is_not_remembered_so() -> None:
    resolver = Resolver([], ["8.8.8.8"])
    guard = Guard(resolver=RecentAnswers(resolver, clock=Clock()))

    with pytest.raises(Unresolved, match=r"hooks\.example does not resolve"):
        await guard.check("http://hooks.example/in")
    checked = await guard.check("http://hooks.example/in")

    assert checked.addresses == (ip_address("8.8.8.8"),)


async def test_only_so_many_names_are_remembered_the_least_recent_forgotten_first() -> None:
    resolver = Resolver(["8.8.8.8"])
    remembered = RecentAnswers(resolver, size=2, clock=Clock())

    for host in ("a.example", "b.example", "a.example", "c.example", "a.example", "b.example"):
        await remembered(host, 80)

    assert [host for host, _ in resolver.asked] == [
        "a.example",
        "b.example",
        "c.example",
        "b.example",
    ]
