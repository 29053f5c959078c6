# MQTT 3.1.1 wire format: packet building and parsing, no I/O. Builders write
# into a caller's preallocated bytearray and return the length, so the client's
# hot path (PUBLISH, PUBACK, PINGREQ) allocates nothing per packet.

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82   # the spec fixes the low nibble of SUBSCRIBE at 0b0010
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

MAX_REMAINING = 268435455  # four varint bytes
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class ProtocolError(ValueError):
    pass


def to_bytes(s):
    return s.encode() if isinstance(s, str) else s


def varint_size(n):
    if not 0 <= n <= MAX_REMAINING:
        raise ProtocolError("remaining length %d out of range" % n)
    size = 1
    while n > 127:
        n >>= 7
        size += 1
    return size


def put_varint(buf, pos, n):
    """Write the remaining-length varint of n at buf[pos]; return the next position."""
    varint_size(n)
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            buf[pos] = byte | 0x80
            pos += 1
        else:
            buf[pos] = byte
            return pos + 1


class VarintReader:
    """Decodes a remaining length one byte at a time, as bytes arrive from a stream."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.value = 0
        self.shift = 0

    def feed(self, byte):
        """Return the length once complete, else None; raise on a fifth byte."""
        if self.shift > 21:
            raise ProtocolError("remaining length longer than 4 bytes")
        self.value |= (byte & 0x7F) << self.shift
        self.shift += 7
        if byte & 0x80:
            return None
        return self.value


def decode_varint(data, pos=0):
    """Decode a whole varint from data[pos:]; return (value, next position)."""
    r = VarintReader()
    while True:
        if pos >= len(data):
            raise ProtocolError("remaining length truncated")
        value = r.feed(data[pos])
        pos += 1
        if value is not None:
            return value, pos


def _put_str(buf, pos, b):
    n = len(b)
    if n > 0xFFFF:
        raise ProtocolError("string of %d bytes is longer than 65535" % n)
    buf[pos] = n >> 8
    buf[pos + 1] = n & 0xFF
    pos += 2
    buf[pos:pos + n] = b
    return pos + n


def _header(buf, first, remaining):
    """Fixed header at buf[0:]; return the position after it. Checks the fit."""
    total = 1 + varint_size(remaining) + remaining
    if total > len(buf):
        raise ProtocolError("packet of %d bytes does not fit the %d-byte buffer" % (total, len(buf)))
    buf[0] = first
    return put_varint(buf, 1, remaining)


def connect_into(buf, client_id, keepalive_s, clean_session=False, user=None, password=None,
                 will_topic=None, will_message=b"", will_qos=0, will_retain=False):
    client_id = to_bytes(client_id)
    flags = 0x02 if clean_session else 0
    remaining = 10 + 2 + len(client_id)
    if will_topic is not None:
        will_topic = to_bytes(will_topic)
        will_message = to_bytes(will_message)
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        remaining += 4 + len(will_topic) + len(will_message)
    if user is not None:
        user = to_bytes(user)
        flags |= 0x80
        remaining += 2 + len(user)
        if password is not None:
            password = to_bytes(password)
            flags |= 0x40
            remaining += 2 + len(password)
    if not 0 <= keepalive_s <= 0xFFFF:
        raise ProtocolError("keepalive %d s out of range" % keepalive_s)
    pos = _header(buf, CONNECT, remaining)
    pos = _put_str(buf, pos, b"MQTT")
    buf[pos] = 4  # protocol level of 3.1.1
    buf[pos + 1] = flags
    buf[pos + 2] = keepalive_s >> 8
    buf[pos + 3] = keepalive_s & 0xFF
    pos = _put_str(buf, pos + 4, client_id)
    if will_topic is not None:
        pos = _put_str(buf, pos, will_topic)
        pos = _put_str(buf, pos, will_message)
    if user is not None:
        pos = _put_str(buf, pos, user)
        if password is not None:
            pos = _put_str(buf, pos, password)
    return pos


def publish_into(buf, topic, payload, qos=0, retain=False, dup=False, pid=0):
    """PUBLISH in buf; topic and payload as bytes (str is encoded). Return the length."""
    topic = to_bytes(topic)
    payload = to_bytes(payload)
    if qos not in (0, 1):
        raise ProtocolError("QoS %r is not supported (0 or 1)" % qos)
    first = PUBLISH | (qos << 1) | (1 if retain else 0) | (0x08 if dup and qos else 0)
    tlen = len(topic)
    remaining = 2 + tlen + (2 if qos else 0) + len(payload)
    if remaining < 16384 and tlen < 256 and remaining + 3 <= len(buf):
        # the hot path, inline (a function call costs dearly here): 1-2 length bytes
        buf[0] = first
        if remaining < 128:
            buf[1] = remaining
            pos = 2
        else:
            buf[1] = (remaining & 0x7F) | 0x80
            buf[2] = remaining >> 7
            pos = 3
        buf[pos] = 0
        buf[pos + 1] = tlen
        pos += 2
        buf[pos:pos + tlen] = topic
        pos += tlen
    else:
        pos = _put_str(buf, _header(buf, first, remaining), topic)
    if qos:
        buf[pos] = pid >> 8
        buf[pos + 1] = pid & 0xFF
        pos += 2
    buf[pos:pos + len(payload)] = payload
    return pos + len(payload)


def puback_into(buf, pid):
    buf[0] = PUBACK
    buf[1] = 2
    buf[2] = pid >> 8
    buf[3] = pid & 0xFF
    return 4


def subscribe_into(buf, pid, topics):
    """SUBSCRIBE for [(topic, qos), ...]; return the length."""
    encoded = [(to_bytes(t), q) for t, q in topics]
    if not encoded:
        raise ProtocolError("SUBSCRIBE needs at least one topic")
    remaining = 2 + sum(3 + len(t) for t, _ in encoded)
    pos = _header(buf, SUBSCRIBE, remaining)
    buf[pos] = pid >> 8
    buf[pos + 1] = pid & 0xFF
    pos += 2
    for t, q in encoded:
        pos = _put_str(buf, pos, t)
        buf[pos] = q
        pos += 1
    return pos


def parse_connack(body):
    """(session_present, return code) from a CONNACK's 2-byte body."""
    if len(body) != 2:
        raise ProtocolError("CONNACK body of %d bytes, expected 2" % len(body))
    return bool(body[0] & 1), body[1]


def parse_pid(body):
    """The packet id of a PUBACK or SUBACK body."""
    if len(body) < 2:
        raise ProtocolError("packet id truncated")
    return (body[0] << 8) | body[1]


def parse_publish_head(first, body, have):
    """Locate the parts of a PUBLISH from the first `have` bytes of its body
    (enough for topic and packet id; the payload may still be on the wire).
    Return (topic_end, pid, payload_start); the topic starts at 2."""
    if have < 2:
        raise ProtocolError("PUBLISH truncated")
    tlen = (body[0] << 8) | body[1]
    qos = (first >> 1) & 3
    if qos > 1:
        raise ProtocolError("QoS %d PUBLISH from the broker is not supported" % qos)
    start = 2 + tlen + (2 if qos else 0)
    if start > have:
        raise ProtocolError("PUBLISH topic of %d bytes overruns the %d bytes read" % (tlen, have))
    pid = ((body[2 + tlen] << 8) | body[3 + tlen]) if qos else 0
    return 2 + tlen, pid, start


def parse_suback(body):
    """(pid, [granted qos or 0x80 for failure, ...])."""
    return parse_pid(body), [body[i] for i in range(2, len(body))]
