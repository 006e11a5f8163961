"""The server side of WebSocket (RFC 6455) for the Slack stand-in's Socket Mode.

Written here rather than taken from a library so the stand-in stays dependency-free and shows
what it accepts: the opening handshake (``GET`` with ``Upgrade: websocket``, ``Connection:
Upgrade``, ``Sec-WebSocket-Version: 13`` and a 16-byte base64 ``Sec-WebSocket-Key``, answered
with ``101`` and ``Sec-WebSocket-Accept``), then frames. A client's frames must be masked and
use no reserved bits; control frames (close, ping, pong) are at most 125 bytes and never
fragmented; text must be UTF-8. A broken rule closes the connection with the RFC's code (1002
protocol error, 1007 bad data, 1009 too big). The server's own frames are never masked.

:class:`WebSocket` wraps a connection the HTTP server hands over: it answers pings with pongs
and a close with a close, reassembles fragmented messages, and serialises writes so several
threads may send.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA
_DATA_OPCODES: Final = frozenset({OP_CONTINUATION, OP_TEXT, OP_BINARY})
_CONTROL_OPCODES: Final = frozenset({OP_CLOSE, OP_PING, OP_PONG})

CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_NO_STATUS: Final = 1005
CLOSE_INVALID_DATA: Final = 1007
CLOSE_TOO_BIG: Final = 1009

MAX_MESSAGE: Final = 16 * 1024 * 1024
MAX_CONTROL_PAYLOAD: Final = 125


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def handshake_problem(method: str, headers: Mapping[str, str]) -> str | None:
    """What is wrong with an opening handshake (``headers`` with lower-case names), or None."""
    if method != "GET":
        return f"a WebSocket handshake must be a GET, got {method}"
    if "websocket" not in _tokens(headers.get("upgrade", "")):
        return "missing 'Upgrade: websocket'"
    if "upgrade" not in _tokens(headers.get("connection", "")):
        return "missing 'Connection: Upgrade'"
    if headers.get("sec-websocket-version", "").strip() != "13":
        return "Sec-WebSocket-Version must be 13"
    key = headers.get("sec-websocket-key", "").strip()
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        return "Sec-WebSocket-Key must be 16 bytes in base64"
    return None


def handshake_response(key: str) -> bytes:
    """The ``101 Switching Protocols`` answer to a valid handshake."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(key)}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


class ProtocolError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes


def encode_frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None
) -> bytes:
    """One frame. The server sends unmasked frames; ``mask`` (4 bytes) builds a client's."""
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    size = len(payload)
    if size <= 125:
        head += bytes([mask_bit | size])
    elif size <= 0xFFFF:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if mask is None:
        return head + payload
    if len(mask) != 4:
        raise ValueError("a frame mask is 4 bytes")
    return head + mask + _unmask(payload, mask)


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    repeated = (mask * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big"
    )


def read_frame(read: Callable[[int], bytes]) -> Frame | None:
    """The next frame from a client (``read(n)`` returns up to n bytes, b"" at the end);
    None when the connection ended between frames."""
    head = read(2)
    if not head:
        return None
    if len(head) < 2:
        head += _exactly(read, 2 - len(head))
    first, second = head[0], head[1]
    if first & 0x70:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set without an extension")
    opcode = first & 0x0F
    fin = bool(first & 0x80)
    if opcode not in _DATA_OPCODES | _CONTROL_OPCODES:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
    if not second & 0x80:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "a client's frames must be masked")
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", _exactly(read, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", _exactly(read, 8))[0]
    if opcode in _CONTROL_OPCODES and (size > MAX_CONTROL_PAYLOAD or not fin):
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "control frames are short and unfragmented")
    if size > MAX_MESSAGE:
        raise ProtocolError(CLOSE_TOO_BIG, f"frame of {size} bytes")
    mask = _exactly(read, 4)
    return Frame(fin, opcode, _unmask(_exactly(read, size), mask))


def _exactly(read: Callable[[int], bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing > 0:
        chunk = read(missing)
        if not chunk:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "connection ended inside a frame")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Incoming:
    """What :meth:`WebSocket.receive` saw: ``text`` (data is the UTF-8 text), ``binary``,
    ``ping`` / ``pong`` (already answered / for the caller to match), or ``close`` (``code``
    and ``data`` as the reason; the close was answered)."""

    kind: str
    data: bytes = b""
    code: int | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


class WebSocket:
    """One server-side WebSocket over a handed-over connection."""

    def __init__(self, sock: socket.socket, read: Callable[[int], bytes]) -> None:
        """``read(n)`` reads up to n bytes of the connection (the HTTP server's buffered
        reader, which may hold bytes already received)."""
        self._sock = sock
        self._read = read
        self._send_lock = threading.Lock()
        self._close_sent = False
        self._close_received = False
        self._server_first = False
        # The message being reassembled from fragments (its opcode, parts, total size).
        self._kind: int | None = None
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def server_initiated_close(self) -> bool:
        """This side sent a close frame before the peer sent one."""
        return self._close_sent and self._server_first

    def _send(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            if self._close_sent:
                raise OSError("the WebSocket is closing")
            self._sock.sendall(encode_frame(opcode, payload))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the connection (the handshake answer)."""
        with self._send_lock:
            self._sock.sendall(data)

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode("utf-8"))

    def send_ping(self, payload: bytes = b"") -> None:
        self._send(OP_PING, payload[:MAX_CONTROL_PAYLOAD])

    def send_pong(self, payload: bytes) -> None:
        self._send(OP_PONG, payload[:MAX_CONTROL_PAYLOAD])

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once); the peer's answer ends :meth:`receive`'s loop."""
        with self._send_lock:
            if self._close_sent:
                return
            self._close_sent = True
            self._server_first = not self._close_received
            payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
            with contextlib.suppress(OSError):
                self._sock.sendall(encode_frame(OP_CLOSE, payload))

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def receive(self) -> Incoming | None:
        """The next message, ping, pong or close; None when the connection ended.
        ProtocolError after answering a broken frame with a close. A control frame between
        the fragments of a message is returned on its own; the message continues after."""
        while True:
            try:
                frame = read_frame(self._read)
            except ProtocolError as error:
                self.close(error.code, error.reason)
                raise
            except OSError:
                return None
            if frame is None:
                return None
            if frame.opcode in _CONTROL_OPCODES:
                control = self._control(frame)
                if control is not None:
                    return control
                continue
            if frame.opcode == OP_CONTINUATION and self._kind is None:
                raise self._fail(CLOSE_PROTOCOL_ERROR, "continuation without a message")
            if frame.opcode != OP_CONTINUATION and self._kind is not None:
                raise self._fail(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
            if self._kind is None:
                self._kind = frame.opcode
            self._size += len(frame.payload)
            if self._size > MAX_MESSAGE:
                raise self._fail(CLOSE_TOO_BIG, f"message over {MAX_MESSAGE} bytes")
            self._parts.append(frame.payload)
            if frame.fin:
                kind, data = self._kind, b"".join(self._parts)
                self._kind, self._parts, self._size = None, [], 0
                return self._message(kind, data)

    def _message(self, kind: int, data: bytes) -> Incoming:
        if kind == OP_BINARY:
            return Incoming("binary", data)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail(CLOSE_INVALID_DATA, "text message is not UTF-8") from None
        return Incoming("text", data)

    def _control(self, frame: Frame) -> Incoming | None:
        if frame.opcode == OP_PING:
            with contextlib.suppress(OSError):
                self.send_pong(frame.payload)
            return Incoming("ping", frame.payload)
        if frame.opcode == OP_PONG:
            return Incoming("pong", frame.payload)
        self._close_received = True
        code = CLOSE_NO_STATUS
        if len(frame.payload) >= 2:
            code = struct.unpack("!H", frame.payload[:2])[0]
        self.close(code if code != CLOSE_NO_STATUS else CLOSE_NORMAL)
        return Incoming("close", frame.payload[2:], code)

    def _fail(self, code: int, reason: str) -> ProtocolError:
        self.close(code, reason)
        return ProtocolError(code, reason)
