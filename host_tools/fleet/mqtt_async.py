"""A small asyncio MQTT 3.1.1 client for CPython, on the firmware's own wire
codec (firmware/lampctl/mqtt_codec.py): thousands of connections in one event
loop, which paho (a thread or a socket loop per client) does not do cheaply.

Enough of the protocol for a lamp and for fleet tools: CONNECT with a Will and
credentials, SUBSCRIBE, PUBLISH at QoS 0/1 both ways, PUBACK, keepalive pings.
No automatic reconnect: the caller decides (a simulated lamp backs off like a
board does)."""
from __future__ import annotations

import asyncio
import ssl as ssl_module

from ..paths import firmware_module

codec = firmware_module("mqtt_codec")


class ConnectRefused(ConnectionError):
    pass


class AsyncMQTT:
    """on_message(topic: str, payload: bytes, retained: bool) is called from the
    reader; its PUBACK (QoS 1) goes once it returns. on_lost() runs once when the
    connection ends other than by close()."""

    def __init__(self, client_id: str, host: str, port: int, user: str | None = None, password: str | None = None,
                 keepalive_s: int = 60, will: tuple[str, bytes, bool] | None = None, clean_session: bool = False,
                 ssl: ssl_module.SSLContext | None = None, on_message=None, on_lost=None):
        self.client_id, self.host, self.port = client_id, host, port
        self.user, self.password = user, password
        self.keepalive_s = keepalive_s
        self.will = will
        self.clean_session = clean_session
        self.ssl = ssl
        self.on_message = on_message
        self.on_lost = on_lost
        self.connected = False
        self.session_present = False
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._pid = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._closing = False

    # --- connection -------------------------------------------------------------
    async def connect(self, timeout: float = 10.0) -> bool:
        """Connect; return session_present. Raises ConnectRefused or OSError."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl,
                                    server_hostname=self.host if self.ssl else None), timeout)
        buf = bytearray(512 + len(self.will[1]) if self.will else 512)
        will_topic, will_msg, will_retain = self.will if self.will else (None, b"", False)
        n = codec.connect_into(buf, self.client_id, self.keepalive_s, self.clean_session, self.user, self.password,
                               will_topic, will_msg, 1 if self.will else 0, will_retain)
        writer.write(bytes(buf[:n]))
        try:
            first, body = await asyncio.wait_for(_read_packet(reader), timeout)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError):
            writer.close()
            raise ConnectRefused(f"{self.client_id}: the broker closed the connection before CONNACK") from None
        if first & 0xF0 != codec.CONNACK:
            writer.close()
            raise ConnectRefused(f"{self.client_id}: expected CONNACK, got packet type {first >> 4}")
        self.session_present, rc = codec.parse_connack(body)
        if rc:
            writer.close()
            raise ConnectRefused(f"{self.client_id}: CONNACK {rc} ({codec.CONNACK_REASONS.get(rc, 'refused')})")
        self._writer = writer
        self.connected = True
        self._closing = False
        self._tasks = [asyncio.create_task(self._read(reader)), asyncio.create_task(self._ping())]
        return self.session_present

    async def close(self) -> None:
        """A clean DISCONNECT: the broker does not publish the Will."""
        if self._writer is not None and self.connected:
            self._closing = True
            self._writer.write(codec.DISCONNECT_PACKET)
            try:
                await self._writer.drain()
            except OSError:
                pass
        self._teardown(abort=False)

    def abort(self) -> None:
        """Drop the TCP connection as a power cut does: the broker publishes the Will."""
        self._closing = True
        self._teardown(abort=True)

    def _teardown(self, abort: bool) -> None:
        was = self.connected
        self.connected = False
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        self._tasks = []
        if self._writer is not None:
            if abort and self._writer.transport is not None:
                self._writer.transport.abort()
            else:
                self._writer.close()
            self._writer = None
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost"))
        self._waiting.clear()
        if was and not self._closing and self.on_lost is not None:
            self.on_lost()

    # --- sending ----------------------------------------------------------------
    def _next_pid(self) -> int:
        self._pid = self._pid % 65535 + 1
        return self._pid

    def _send(self, data: bytes) -> None:
        if self._writer is None:
            raise ConnectionError(f"{self.client_id}: not connected")
        self._writer.write(data)

    def publish_nowait(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False,
                       want_ack: bool = False) -> asyncio.Future | None:
        """Queue a PUBLISH; with want_ack (QoS 1) return a future its PUBACK resolves."""
        payload = payload.encode() if isinstance(payload, str) else payload
        buf = bytearray(len(topic) + len(payload) + 16)
        pid = self._next_pid() if qos else 0
        n = codec.publish_into(buf, topic, payload, qos, retain, False, pid)
        fut = None
        if qos and want_ack:
            fut = asyncio.get_running_loop().create_future()
            self._waiting[pid] = fut
        self._send(bytes(buf[:n]))
        return fut

    async def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        fut = self.publish_nowait(topic, payload, qos, retain, want_ack=True)
        if fut is not None:
            await fut
        elif self._writer is not None:
            await self._writer.drain()

    async def subscribe(self, topics: list[tuple[str, int]]) -> list[int]:
        buf = bytearray(sum(len(t) + 3 for t, _ in topics) + 8)
        pid = self._next_pid()
        n = codec.subscribe_into(buf, pid, topics)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[pid] = fut
        self._send(bytes(buf[:n]))
        return await fut

    # --- receiving --------------------------------------------------------------
    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                first, body = await _read_packet(reader)
                kind = first & 0xF0
                if kind == codec.PUBLISH:
                    self._on_publish(first, body)
                elif kind in (codec.PUBACK, codec.SUBACK):
                    pid = codec.parse_pid(body)
                    fut = self._waiting.pop(pid, None)
                    if fut is not None and not fut.done():
                        fut.set_result(codec.parse_suback(body)[1] if kind == codec.SUBACK else None)
        except (asyncio.IncompleteReadError, OSError, codec.ProtocolError):
            pass
        except asyncio.CancelledError:
            return
        self._teardown(abort=True)

    def _on_publish(self, first: int, body: bytes) -> None:
        end, pid, start = codec.parse_publish_head(first, body, len(body))
        topic = body[2:end].decode()
        if self.on_message is not None:
            self.on_message(topic, body[start:], bool(first & 1))
        if pid and self._writer is not None:
            self._writer.write(bytes((codec.PUBACK, 2, pid >> 8, pid & 0xFF)))

    async def _ping(self) -> None:
        try:
            while self._writer is not None:
                await asyncio.sleep(self.keepalive_s / 2)
                self._send(codec.PINGREQ_PACKET)
        except (asyncio.CancelledError, ConnectionError):
            return


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    first, byte = head[0], head[1]
    length, shift = byte & 0x7F, 7
    while byte & 0x80:
        if shift > 21:
            raise codec.ProtocolError("remaining length longer than 4 bytes")
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
    return first, (await reader.readexactly(length)) if length else b""
