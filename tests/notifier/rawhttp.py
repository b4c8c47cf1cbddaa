"""HTTP/1.1 requests written byte by byte, for what a well-behaved client library refuses to send:
header values that are not UTF-8, a Content-Length the body never reaches, broken chunking."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the server closed the connection without answering
    body: bytes


def request_bytes(
    path: str, headers: list[tuple[bytes, bytes]], body: bytes, *, length: bool = True
) -> bytes:
    """A POST with `headers` as given; Content-Length is added (unless `length` is False)."""
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: test", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def send(host: str, port: int, raw: bytes, *, guard: float = 30.0) -> Answer:
    """Send `raw`, keep the connection open for writing, and read the answer until the server closes.

    `guard` only stops a hung test; it is not a timing assertion.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(guard):
            data = await reader.read(-1)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    if not data.startswith(b"HTTP/1."):
        return Answer(0, data)
    head, _, body = data.partition(b"\r\n\r\n")
    return Answer(int(head.split(b" ", 2)[1]), body)
