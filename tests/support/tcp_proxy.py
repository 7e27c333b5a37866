"""A TCP relay a test puts between a client and a real server, to cut the line and restore it.

`TcpProxy(host, port)` listens on a free port of 127.0.0.1 and relays every connection to the
server. `cut()` aborts every relayed connection (as a dead network or a stopped server would)
and, until `restore()`, closes each new connection as soon as it is accepted, so clients see
the server gone without the real server (which other work shares) being touched.
`hold_answers_with(marker)` keeps back the server's answer that contains `marker` (the
request went through, the server did its work, the client never hears back) until
`release_answers()`: a test kills the client at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Optional

_CHUNK = 65536


class TcpProxy:
    """Relays 127.0.0.1:`port` to (target_host, target_port) until cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.connections_refused = 0
        self._open = True
        self._server: Optional[asyncio.base_events.Server] = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task] = set()
        self._hold_marker: Optional[bytes] = None
        self._released = asyncio.Event()
        self.held = 0  # answers being held back now

    async def start(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Drop every relayed connection abruptly and refuse new ones."""
        self._open = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._settle()

    def restore(self) -> None:
        """Relay new connections again."""
        self._open = True

    def hold_answers_with(self, marker: bytes) -> None:
        """Keep back, from here on, every answer from the server that contains `marker`."""
        self._released.clear()
        self._hold_marker = marker

    def release_answers(self) -> None:
        """Stop holding: answers held back go on (to clients still there)."""
        self._hold_marker = None
        self._released.set()

    async def close(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        if not self._open:
            self.connections_refused += 1
            client_writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.target_host, self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        if not self._open:  # cut while connecting
            client_writer.transport.abort()
            server_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        for source, sink, answers in ((client_reader, server_writer, False),
                                      (server_reader, client_writer, True)):
            pump = asyncio.create_task(self._pump(source, sink, answers))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    answers: bool) -> None:
        seen = b""  # what this answer sent lately, so a marker split across chunks is found
        try:
            with contextlib.suppress(ConnectionError, OSError):  # a side went away: stop
                while chunk := await source.read(_CHUNK):
                    marker = self._hold_marker
                    if answers and marker is not None:
                        seen = seen[-len(marker):] + chunk
                        if marker in seen:
                            await self._hold()
                    sink.write(chunk)
                    await sink.drain()
        finally:
            self._writers.discard(sink)
            sink.transport.abort()

    async def _hold(self) -> None:
        self.held += 1
        try:
            await self._released.wait()
        finally:
            self.held -= 1

    async def _settle(self) -> None:
        """Let the pumps of aborted connections finish."""
        pumps = list(self._pumps)
        if pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(pumps, timeout=5)


class BackgroundProxy:
    """A `TcpProxy` on an event loop of its own thread, for a test whose client is another
    process (the real stack): `with BackgroundProxy(host, port) as proxy:` ... `proxy.cut()`,
    `proxy.restore()`; `proxy.port` is where the other process connects."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"proxy-{target_port}")
        self._proxy = TcpProxy(target_host, target_port)

    @property
    def port(self) -> int:
        return self._proxy.port

    def __enter__(self) -> "BackgroundProxy":
        self._thread.start()
        self._call(self._proxy.start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._call(self._proxy.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def cut(self) -> None:
        self._call(self._proxy.cut())

    def restore(self) -> None:
        async def restore() -> None:
            self._proxy.restore()

        self._call(restore())  # done when this returns: the next connection is relayed

    def hold_answers_with(self, marker: bytes) -> None:
        async def hold() -> None:
            self._proxy.hold_answers_with(marker)

        self._call(hold())

    def release_answers(self) -> None:
        async def release() -> None:
            self._proxy.release_answers()

        self._call(release())

    def retarget(self, target_port: int) -> None:
        """Relay new connections to another port (the server restarted on a new one)."""
        self._proxy.target_port = target_port

    @property
    def held(self) -> int:
        """Answers being held back now."""
        return self._proxy.held

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)
