# Asyncio MQTT 3.1.1 client for the board's single loop (umqtt blocks).
# One task, run(), owns the connection: connect, keep alive, reconnect with
# backoff. publish() queues QoS 1 messages across outages (clean_session off) and
# returns once the broker has PUBACKed. Buffers are allocated once, here.
import asyncio
import gc
import random
import time

from lampctl import mqtt_codec as codec

_TX_OVERHEAD = 8  # fixed header + topic length + packet id around a message
_READ_AHEAD = 128
SPARE = 2048      # bytes of heap kept in one run for what finds none (give_up_spare)


class MQTTError(Exception):
    pass


def tls_context(cafile, certfile=None, keyfile=None):
    """A client TLS context that verifies the broker against `cafile`, and
    presents a client certificate when one is given."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # MicroPython's client context defaults to CERT_NONE; the ESP32 stubs lack
    # the attribute, hence setattr.
    setattr(ctx, "verify_mode", ssl.CERT_REQUIRED)
    ctx.load_verify_locations(cafile=cafile)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


class MQTTClient:
    """on_message(topic, payload, retained) is called with bytes, from the
    reader task: keep it short (queue the work). If it returns True for a QoS 1
    message, the PUBACK waits for puback(client.token), so a message the app
    lost (a reset) is delivered again; any other return value acknowledges at
    once. pause()/resume() stop and restart reading (flow control: the
    broker's own in-flight window cannot be relied on). on_connect(session_present)
    runs after every (re)connect, on_oversize(topic, size) when a message
    larger than max_msg is skipped."""

    def __init__(self, client_id, host, port=1883, user=None, password=None,
                 keepalive_s=60, ssl=None, server_hostname=None,
                 will_topic=None, will_message=b"offline", will_retain=True, will_qos=1,
                 clean_session=False, max_msg=1024, max_inflight=8,
                 backoff_min_ms=1000, backoff_max_ms=60000, connect_timeout_ms=10000,
                 ping_timeout_ms=0, on_message=None, on_connect=None, on_oversize=None, resolve=None):
        if not 0 < keepalive_s <= 0xFFFF:
            raise ValueError("keepalive_s: %r out of range [1, 65535]" % keepalive_s)
        if not 0 < backoff_min_ms <= backoff_max_ms:
            raise ValueError("backoff: need 0 < backoff_min_ms <= backoff_max_ms")
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.will = (will_topic, will_message, will_qos, will_retain)
        self.clean_session = clean_session
        self.max_msg = max_msg
        self.max_inflight = max_inflight
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.connect_timeout_ms = connect_timeout_ms
        # Ping when the link is idle for 4/5 of the keepalive: MQTT asks for a
        # packet within the keepalive, the broker waits 1.5 times it, and on a
        # metered link a ping costs as much as a small message (pinging at half
        # would double them). No answer within ping_timeout_ms means a half-open
        # connection.
        self.ping_every_ms = keepalive_s * 800
        self.ping_timeout_ms = ping_timeout_ms or max(1000, min(keepalive_s * 500, 10000))
        self.on_message = on_message
        self.on_connect = on_connect
        self.on_oversize = on_oversize
        # async resolve(host, port) -> address: a name lookup off the loop (lampctl.resolver);
        # without it, open_connection looks the name up itself and blocks the loop meanwhile
        self.resolve = resolve

        self._tx = bytearray(max_msg + _TX_OVERHEAD)
        self._txmv = memoryview(self._tx)
        self._rx = bytearray(max_msg)
        self._rxmv = memoryview(self._rx)
        # Read-ahead: one poll picks up a burst of small packets (PUBACKs).
        self._ra = memoryview(bytearray(_READ_AHEAD))
        # A run of heap kept beside the buffers, given up for a message the heap
        # has no room for: in 96 KB the app's small objects leave free space in
        # short runs (measured on a provisioned board: 16.7 KB free, the longest
        # run 496 bytes), where a message's copy or a command's work needs longer.
        self._spare = bytearray(SPARE)  # type: bytearray | None
        self._ra_pos = self._ra_end = 0
        self._varint = codec.VarintReader()
        self._lock = asyncio.Lock()       # held by the one task draining the stream
        self._changed = asyncio.Event()   # room in the window, or a connection change
        self._events = []                 # spare PUBACK events, reused: one per message in flight
        self._dead = asyncio.Event()
        self._resume = asyncio.Event()    # cleared while the app wants no more messages
        self._resume.set()
        self._subs = []                   # [(topic, qos)]
        self._inflight = {}               # pid -> [order, topic, payload, retain, sent_on_conn, acked event]
        self._order = 0
        self._pid = 0
        self._stream = None
        self._tasks = []
        self._conn = 0                    # connection number, counts successful connects
        self._stopping = False
        self._last_rx = self._last_tx = time.ticks_ms()
        self._ping_pending = False
        self.connected = False
        self.reconnects = 0
        self.oversize = 0
        self.last_error = None
        self.token = (0, 0)               # (connection, packet id) of the message being delivered

    # -- the app's side -------------------------------------------------

    def subscribe(self, topic, qos=1):
        """Register a subscription; it is sent again on every connect."""
        self._subs.append((topic, qos))
        if self.connected:
            asyncio.create_task(self._send_subscribe())

    async def publish(self, topic, payload, qos=0, retain=False):
        """QoS 0: sent now if connected, else dropped (returns False).
        QoS 1: queued (at most max_inflight at once, waiting for room), sent and
        resent with DUP after a reconnect, returns True once PUBACKed. Cancelling
        the wait does not withdraw the message. Raises ValueError if too big."""
        topic = codec.to_bytes(topic)  # once, so a queued message is stored as sent
        payload = codec.to_bytes(payload)
        if len(topic) + len(payload) + _TX_OVERHEAD > len(self._tx):
            raise ValueError("message of %d bytes exceeds max_msg %d" % (len(topic) + len(payload), self.max_msg))
        if qos not in (0, 1):
            raise ValueError("qos: %r is not supported (0 or 1)" % qos)
        if qos == 0:
            if not self.connected:
                return False
            return await self._send_publish(topic, payload, 0, retain, False, 0)
        while len(self._inflight) >= self.max_inflight:
            await self._changed.wait()
        pid = self._next_pid()
        self._order += 1
        # Its own event: a PUBACK wakes only the publisher it answers.
        acked = self._events.pop() if self._events else asyncio.Event()
        self._inflight[pid] = [self._order, topic, payload, retain, 0, acked]
        if self.connected:
            pending = self._send_queued(pid)
            if pending:
                await pending
        await acked.wait()
        acked.clear()
        if len(self._events) < self.max_inflight:
            self._events.append(acked)
        return True

    def queued(self):
        """QoS 1 messages not yet acknowledged by the broker."""
        return len(self._inflight)

    async def disconnect(self):
        """Clean DISCONNECT (the broker discards the Last Will); run() returns."""
        self._stopping = True
        if self.connected:
            try:
                await self._send(codec.DISCONNECT_PACKET)
            except OSError:
                pass
        self._dead.set()

    async def run(self):
        """Keep connected until disconnect(): a task for the app's loop."""
        delay = self.backoff_min_ms
        while not self._stopping:
            try:
                await self._connect()
                up_since = time.ticks_ms()
                await self._dead.wait()
                if time.ticks_diff(time.ticks_ms(), up_since) > self.keepalive_s * 500:
                    delay = self.backoff_min_ms  # a connection that held resets the backoff
            except Exception as e:  # any failure of one attempt: log it, back off, retry
                self.last_error = "%s: %s" % (type(e).__name__, e)
            self._teardown()
            if self._stopping:
                break
            # Full jitter in [delay/2, delay] spreads a fleet reconnecting at once.
            await asyncio.sleep_ms(delay // 2 + random.getrandbits(16) % (delay // 2 + 1))
            delay = min(delay * 2, self.backoff_max_ms)

    # -- connection ----------------------------------------------------

    async def _connect(self):
        self._dead.clear()
        host = await self.resolve(self.host, self.port) if self.resolve else self.host
        self._stream, _ = await asyncio.wait_for_ms(
            asyncio.open_connection(host, self.port, ssl=self.ssl,
                                    server_hostname=self.server_hostname or self.host),
            self.connect_timeout_ms)
        wt, wm, wq, wr = self.will
        n = codec.connect_into(self._tx, self.client_id, self.keepalive_s, self.clean_session,
                               self.user, self.password, wt, wm, wq, wr)
        await self._send(self._txmv[:n])
        first, length = await asyncio.wait_for_ms(self._read_header(), self.connect_timeout_ms)  # type: int, int
        if first != codec.CONNACK:
            raise codec.ProtocolError("expected CONNACK, got packet type 0x%02x" % first)
        await self._read_into(0, length)
        session_present, rc = codec.parse_connack(self._rxmv[:length])
        if rc:
            raise MQTTError("broker refused: %s" % codec.CONNACK_REASONS.get(rc, "code %d" % rc))
        self._conn += 1
        if self._conn > 1:
            self.reconnects += 1
        self._ping_pending = False
        self._tasks = [asyncio.create_task(self._guard(self._reader())),
                       asyncio.create_task(self._guard(self._keepalive()))]
        if self._subs and (self.clean_session or not session_present):
            await self._send_subscribe()
        # Resend what the broker has not acknowledged, oldest first; loop until
        # none is left unsent on this connection, then accept new publishes.
        while True:
            pending = [(m[0], pid) for pid, m in self._inflight.items() if m[4] != self._conn]
            if not pending:
                break
            pending.sort()
            for _, pid in pending:
                w = self._send_queued(pid)
                if w:
                    await w
        if self._dead.is_set():
            raise OSError(self.last_error or "connection lost while resending")
        self.connected = True
        self.last_error = None
        if self.on_connect:
            self.on_connect(session_present)
        if self._subs and session_present and not self.clean_session:
            # A kept session may lack our subscriptions (a reset between CONNACK and
            # SUBACK, or another login with this id, as the provisioning self-test's):
            # subscribing again only replaces them. Sent once connected, so commands
            # the session queued (they arrive at once) are answered, not dropped.
            asyncio.create_task(self._send_subscribe())

    async def _guard(self, coro):
        try:
            await coro
        except Exception as e:  # the connection is broken: let run() reconnect
            self.last_error = "%s: %s" % (type(e).__name__, e)
            self._dead.set()

    def _teardown(self):
        self.connected = False
        self._ra_pos = self._ra_end = 0  # bytes of a dead connection
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        if self._stream is not None:
            try:
                self._stream.close()
            except OSError:
                pass
            self._stream = None
        self._changed.set()
        self._changed.clear()

    # -- writing -------------------------------------------------------

    def _put(self, data):
        """Write a packet (often a view of tx). Usually the socket takes it
        whole at once: then it returns None, with no lock taken and no turn of
        the loop (a coroutine per packet costs the hot path dearly). Else it
        returns what to await: the rest drained from the stream's buffer by one
        task at a time (asyncio allows one writer waiting per stream), under
        the lock; a packet that finds a drain running waits for it with a copy
        of its bytes, as tx is reused meanwhile."""
        s = self._stream
        if s is None:
            raise OSError("not connected")
        if self._lock.locked():
            return self._drain(bytes(data))
        s.write(data)  # the stream keeps a copy of what the socket did not take
        self._last_tx = time.ticks_ms()
        return self._drain(None) if s.out_buf else None

    async def _drain(self, data):
        async with self._lock:
            s = self._stream
            if s is None:
                raise OSError("not connected")
            if data is not None:
                s.write(data)
            await s.drain()
        self._last_tx = time.ticks_ms()

    async def _send(self, data):
        pending = self._put(data)
        if pending:
            await pending

    async def _send_publish(self, topic, payload, qos, retain, dup, pid):
        try:
            await self._send(self._txmv[:codec.publish_into(self._tx, topic, payload, qos, retain, dup, pid)])
            await asyncio.sleep_ms(0)  # a loop of QoS 0 publishes must not starve the others
            return True
        except OSError as e:
            self._broken(e)
            return False

    def _send_queued(self, pid):
        """Send a queued QoS 1 message unless it already went out on this
        connection; None once done, else what to await (see _put)."""
        m = self._inflight.get(pid)
        if m is None or m[4] == self._conn:
            return None
        dup = m[4] != 0
        m[4] = self._conn
        try:
            pending = self._put(self._txmv[:codec.publish_into(self._tx, m[1], m[2], 1, m[3], dup, pid)])
        except OSError as e:
            self._broken(e)
            return None
        return self._finish(pending) if pending else None

    async def _finish(self, pending):
        try:
            await pending
        except OSError as e:
            self._broken(e)

    async def _send_subscribe(self):
        pid = self._next_pid()
        try:
            await self._send(self._txmv[:codec.subscribe_into(self._tx, pid, self._subs)])
        except OSError as e:
            self._broken(e)

    def _broken(self, e):
        self.last_error = "%s: %s" % (type(e).__name__, e)
        self.connected = False
        self._dead.set()

    def _next_pid(self):
        while True:
            self._pid = self._pid % 0xFFFF + 1
            if self._pid not in self._inflight:
                return self._pid

    # -- reading -------------------------------------------------------

    async def _read_into(self, pos, end):
        """Fill rx[pos:end] from the read-ahead, then from the stream."""
        s = self._stream
        if s is None:
            raise OSError("not connected")
        while pos < end:
            if self._ra_pos < self._ra_end:
                n = min(end - pos, self._ra_end - self._ra_pos)
                self._rx[pos:pos + n] = self._ra[self._ra_pos:self._ra_pos + n]
                self._ra_pos += n
                pos += n
                continue
            big = end - pos >= _READ_AHEAD  # a long payload goes straight to rx
            got = await s.readinto(self._rxmv[pos:end] if big else self._ra)
            if got is None:  # TLS record without application data
                continue
            if not got:
                raise OSError("connection closed by the broker")
            self._last_rx = time.ticks_ms()
            if big:
                pos += got
            else:
                self._ra_pos, self._ra_end = 0, got

    def _header_ahead(self):
        """(type byte, remaining length) taken straight from the read-ahead when
        it holds a whole header with a one-byte length (PUBACK, PINGRESP, a
        short PUBLISH), else (-1, 0): no await for what has already arrived."""
        p = self._ra_pos
        if self._ra_end - p >= 2 and self._ra[p + 1] < 0x80:
            self._ra_pos = p + 2
            return self._ra[p], self._ra[p + 1]
        return -1, 0

    async def _read_header(self):
        """(packet type byte, remaining length) of the next packet."""
        await self._read_into(0, 1)
        first = self._rx[0]
        self._varint.reset()
        while True:
            await self._read_into(0, 1)
            length = self._varint.feed(self._rx[0])
            if length is not None:
                return first, length

    def pause(self):
        """Stop reading after the current packet (the app's inbox is full):
        TCP holds the rest at the broker. resume() reads on."""
        self._resume.clear()

    def resume(self):
        self._resume.set()

    async def _reader(self):
        while True:
            if not self._resume.is_set():
                await self._resume.wait()
                self._last_rx = time.ticks_ms()  # paused by us: not a silent broker
            first, length = self._header_ahead()
            if first < 0:
                first, length = await self._read_header()
            kind = first & 0xF0
            if kind == codec.PUBLISH:
                await self._on_publish(first, length)
                continue
            if kind == codec.PUBACK and length == 2 and self._ra_end - self._ra_pos >= 2:
                p = self._ra_pos  # a burst of PUBACKs is read in one go and handled here, in place
                self._ra_pos = p + 2
                self._acked(self._ra[p] << 8 | self._ra[p + 1])
                continue
            if length > len(self._rx):
                raise codec.ProtocolError("packet 0x%02x of %d bytes" % (first, length))
            await self._read_into(0, length)
            body = self._rxmv[:length]
            if kind == codec.PUBACK:
                self._acked(codec.parse_pid(body))
            elif kind == codec.PINGRESP:
                self._ping_pending = False
            elif kind == codec.SUBACK:
                _, granted = codec.parse_suback(body)
                if 0x80 in granted:
                    self.last_error = "subscription refused by the broker"

    def _acked(self, pid):
        m = self._inflight.pop(pid, None)
        if m is not None:
            m[5].set()             # its publisher returns
            self._changed.set()    # room in the window
            self._changed.clear()

    async def _on_publish(self, first, length):
        have = min(length, len(self._rx))
        await self._read_into(0, have)
        try:
            topic_end, pid, start = codec.parse_publish_head(first, self._rx, have)
        except codec.ProtocolError:
            if length <= have:
                raise
            topic_end = pid = start = 0  # topic longer than the buffer: skip, cannot ack
        if length > len(self._rx):
            # Too big for our buffer: drain it chunk by chunk, acknowledge, drop.
            topic = bytes(self._rxmv[2:topic_end])
            left = length - have
            while left:
                step = min(left, len(self._rx))
                await self._read_into(0, step)
                left -= step
            self.oversize += 1
            if self.on_oversize:
                self.on_oversize(topic, length)
        elif self.on_message:
            self.token = (self._conn, pid)
            try:
                try:
                    topic, payload = bytes(self._rxmv[2:topic_end]), bytes(self._rxmv[start:length])
                except MemoryError:
                    self.give_up_spare()
                    topic, payload = bytes(self._rxmv[2:topic_end]), bytes(self._rxmv[start:length])
                if self.on_message(topic, payload, bool(first & 1)) is True and pid:
                    return  # the app took it and will call puback(token)
            except Exception as e:  # a failing handler must not make the broker redeliver forever
                self.last_error = "on_message: %s: %s" % (type(e).__name__, e)
        if pid:
            await self._send(self._txmv[:codec.puback_into(self._tx, pid)])

    def give_up_spare(self):
        """Free the spare run for work the heap has no room for (the caller
        tries that work again); take_spare() when it is done."""
        self._spare = None
        gc.collect()

    def take_spare(self):
        if self._spare is None:
            gc.collect()
            try:
                self._spare = bytearray(SPARE)
            except MemoryError:
                pass  # no run that long now: taken again after the next such work

    async def puback(self, token):
        """Acknowledge a QoS 1 message whose on_message returned True, once the
        app is done with it. A token of an earlier connection is ignored (the
        broker delivers that message again on the new one)."""
        conn, pid = token
        if not pid or conn != self._conn or self._stream is None:
            return
        try:
            await self._send(self._txmv[:codec.puback_into(self._tx, pid)])
        except OSError as e:
            self._broken(e)

    async def _keepalive(self):
        tick = max(100, min(self.ping_every_ms, self.ping_timeout_ms) // 4)
        self._last_rx = self._last_tx = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(tick)
            now = time.ticks_ms()
            if self._resume.is_set() and \
                    time.ticks_diff(now, self._last_rx) > self.ping_every_ms + self.ping_timeout_ms:
                raise OSError("no answer from the broker for %d ms (half-open connection)"
                              % time.ticks_diff(now, self._last_rx))
            idle = max(time.ticks_diff(now, self._last_tx), time.ticks_diff(now, self._last_rx))
            if not self._ping_pending and idle >= self.ping_every_ms and not self._lock.locked():
                self._ping_pending = True
                await self._send(codec.PINGREQ_PACKET)
