"""The HTTP/1.1 keep-alive clients of the load generator: a minimal one, and httpx."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any, Protocol

from ingestlib.settings import HOST

_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
_CONNECTION_CLOSE = re.compile(rb"(?i)\r\nconnection: *close")


class Http(Protocol):
    """One keep-alive connection that posts JSON with the bench's bearer token."""

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST `body` to `path`; (status, response body). Raises on connection errors."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        ...


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: far less CPU per request
    than httpx, so that the load generator takes as little as possible from the server on
    a small machine. Only what uvicorn answers is handled (Content-Length bodies). It
    connects on first use and again after the server closed the connection."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"Host: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
            path.encode(),
            self.head,
            len(body),
        )
        try:
            self.writer.write(request + body)
            return await self._response(self.reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await self.close()
            raise

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        """Read one response; close the connection if the server asked to."""
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        match = _CONTENT_LENGTH.search(head)
        if match is None:
            raise ConnectionError("response without Content-Length")
        data = await reader.readexactly(int(match.group(1)))
        if _CONNECTION_CLOSE.search(head):
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class HttpxHttp:
    """One client's share of an `httpx.AsyncClient` (which pools the connections)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        response = await self.client.post(path, content=body)
        return response.status_code, response.content

    async def close(self) -> None:
        pass


class Connections:
    """`count` connections of `kind` ("raw" or "httpx") to the server on `port`."""

    def __init__(self, kind: str, port: int, token: str, count: int) -> None:
        self._httpx: Any = None
        if kind == "httpx":
            self._httpx = _httpx_client(port, token, count)
            self.each: list[Http] = [HttpxHttp(self._httpx) for _ in range(count)]
        else:
            self.each = [RawHttp(port, token) for _ in range(count)]

    async def close(self) -> None:
        """Close every connection (and the httpx client)."""
        for connection in self.each:
            await connection.close()
        if self._httpx is not None:
            await self._httpx.aclose()


def _httpx_client(port: int, token: str, connections: int) -> Any:
    """An `httpx.AsyncClient` with `connections` keep-alive connections to the server."""
    import httpx

    return httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=120,
    )
