"""The webhook sender's HTTP/1.1 client (``server/service/webhook_http.py``) against real
servers on 127.0.0.1: plain ones of a few lines each, and one speaking TLS with a
certificate from an authority the test makes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address

import pytest

from server.service.webhook_http import MAX_HEAD, ConnectFailed, Connections, NoAnswer
from tests.tls import Authority

LOCAL = ip_address("127.0.0.1")
HEAD = [(b"host", b"hooks.test"), (b"content-type", b"application/json")]
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


@dataclass
class Server:
    """A server of the test's: its port, the requests it read and the connections made."""

    port: int
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    names: list[str | None] = field(default_factory=list)
    """The names TLS clients asked for (SNI)."""
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a client closes a connection."""


Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Answer = Callable[[Server, Reader, Writer], Awaitable[None]]


async def read_request(server: Server, reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    server.requests.append(head + await reader.readexactly(length))


async def answers(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer 204 to every request on the connection, as a keep-alive server does."""
    while True:
        await read_request(server, reader)
        writer.write(NO_CONTENT)
        await writer.drain()


@asynccontextmanager
async def serving(answer: Answer, context: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await answer(server, reader, writer)
        except asyncio.IncompleteReadError:
            server.hung_up.set()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    if context is not None:
        context.sni_callback = lambda _socket, name, _context: server.names.append(name)
    listening = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()


@pytest.fixture
async def connections() -> AsyncIterator[Connections]:
    made = Connections(max_response_bytes=4096)
    yield made
    await made.aclose()


async def post(connections: Connections, server: Server, body: bytes = b"{}") -> int:
    return await connections.post(
        LOCAL, server.port, tls=False, tls_name=None, target=b"/in", headers=HEAD, body=body
    )


async def test_the_request_is_written_as_given_with_its_length(connections: Connections) -> None:
    async with serving(answers) as server:
        status = await post(connections, server, b'{"type":"notice.sent"}')

    assert status == 204
    [request] = server.requests
    assert request == (
        b"POST /in HTTP/1.1\r\nhost: hooks.test\r\ncontent-type: application/json\r\n"
        b'content-length: 22\r\n\r\n{"type":"notice.sent"}'
    )


async def test_plain_connections_are_kept_for_the_next_call(connections: Connections) -> None:
    async with serving(answers) as server:
        statuses = [await post(connections, server) for _ in range(3)]

    assert statuses == [204, 204, 204]
    assert server.connections == 1


async def test_a_connection_the_receiver_closed_while_idle_is_not_a_failed_call(
    connections: Connections,
) -> None:
    async def once(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(NO_CONTENT)  # keep-alive, as far as the client can tell: then gone
        await writer.drain()

    async with serving(once) as server:
        first = await post(connections, server)
        second = await post(connections, server)

    assert (first, second) == (204, 204)
    assert server.connections == 2


async def test_a_kept_connection_closed_as_it_is_reused_is_retried_once_on_a_new_one(
    connections: Connections,
) -> None:
    async def then_gone(server: Server, reader: Reader, writer: Writer) -> None:
        await read_request(server, reader)
        writer.write(NO_CONTENT)
        await writer.drain()
        if server.connections == 1:
            await read_request(server, reader)  # the next request, read and never answered

    async with serving(then_gone) as server:
        first = await post(connections, server)
        second = await post(connections, server)

    assert (first, second) == (204, 204)
    assert server.connections == 2
    assert len(server.requests) == 3  # the second call's request, sent once more


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_an_idle_connection_too_old_to_take_is_closed_at_a_later_call() -> None:
    clock = Clock()
    connections = Connections(max_response_bytes=4096, keep_alive_seconds=5.0, clock=clock)
    async with serving(answers) as called_once, serving(answers) as called_later:
        await post(connections, called_once)
        clock.now += 6.0
        await post(connections, called_later)

        async with asyncio.timeout(5):
            await called_once.hung_up.wait()
        assert not called_later.hung_up.is_set()
    await connections.aclose()


async def test_an_answer_that_closes_the_connection_is_not_kept(connections: Connections) -> None:
    async def closing(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await read_request(server, reader)
            writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    async with serving(closing) as server:
        statuses = [await post(connections, server) for _ in range(2)]

    assert statuses == [200, 200]
    assert server.connections == 2


async def test_an_answer_read_only_up_to_the_limit_is_not_kept(connections: Connections) -> None:
    async def large(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await read_request(server, reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 100000)
            await writer.drain()

    async with serving(large) as server:
        statuses = [await post(connections, server) for _ in range(2)]

    assert statuses == [200, 200]
    assert server.connections == 2


async def test_an_informational_answer_is_passed_over_for_the_real_one(
    connections: Connections,
) -> None:
    async def early(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + NO_CONTENT)
        await writer.drain()

    async with serving(early) as server:
        assert await post(connections, server) == 204


async def test_a_receiver_that_hangs_up_without_answering_gives_no_answer(
    connections: Connections,
) -> None:
    async def hang_up(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)

    async with serving(hang_up) as server:
        with pytest.raises(NoAnswer) as failed:
            await post(connections, server)

    assert failed.value.kind == "no answer"


@pytest.mark.parametrize(
    "answer",
    [b"SMTP ready\r\n\r\n", b"HTTP/1.1 200 OK\r\nx: " + b"y" * 3 * MAX_HEAD + b"\r\n\r\n"],
    ids=["not HTTP", "a head too large"],
)
async def test_an_answer_that_is_not_http_is_no_answer(
    connections: Connections, answer: bytes
) -> None:
    async def wrong(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(answer)
        await writer.drain()
        await reader.read()  # until the client hangs up

    async with serving(wrong) as server:
        with pytest.raises(NoAnswer, match=r"not an HTTP/1\.1 answer") as failed:
            await post(connections, server)

    assert failed.value.kind == "not HTTP"  # in a word, without what the receiver said


async def test_no_connection_to_an_address_is_a_failure_to_connect(
    connections: Connections,
) -> None:
    async with serving(answers) as server:
        port = server.port  # closed once the block ends: nobody listens there any more

    with pytest.raises(ConnectFailed, match="ConnectionRefusedError") as failed:
        await connections.post(
            LOCAL, port, tls=False, tls_name=None, target=b"/", headers=HEAD, body=b""
        )

    assert failed.value.kind == "connection refused"


# -- TLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority.make(tmp_path_factory.mktemp("authority"), "hooks.test")


async def test_tls_is_given_the_name_and_checks_the_certificate_against_it(
    authority: Authority,
) -> None:
    connections = Connections(max_response_bytes=4096, ssl_context=authority.client)
    async with serving(answers, authority.server) as server:
        statuses = [
            await connections.post(
                LOCAL,
                server.port,
                tls=True,
                tls_name="hooks.test",
                target=b"/in",
                headers=HEAD,
                body=b"{}",
            )
            for _ in range(2)
        ]
    await connections.aclose()

    assert statuses == [204, 204]
    assert server.names == ["hooks.test", "hooks.test"]
    assert server.connections == 2  # a TLS connection is not kept


async def test_a_certificate_for_another_name_fails_the_connection(
    authority: Authority,
) -> None:
    connections = Connections(max_response_bytes=4096, ssl_context=authority.client)
    async with serving(answers, authority.server) as server:
        with pytest.raises(ConnectFailed, match="SSLCertVerificationError") as failed:
            await connections.post(
                LOCAL,
                server.port,
                tls=True,
                tls_name="elsewhere.test",
                target=b"/in",
                headers=HEAD,
                body=b"{}",
            )
        assert server.requests == []
    await connections.aclose()

    assert failed.value.kind == "TLS error"
