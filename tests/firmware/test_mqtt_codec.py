# The MQTT 3.1.1 wire format byte for byte (OASIS spec, sections 2 and 3):
# a broker that disagrees with us drops the lamp's connection.
from lampctl import mqtt_codec as codec


def _raises(fn, message):
    try:
        fn()
    except codec.ProtocolError as e:
        assert str(e) == message, str(e)
        return
    raise AssertionError("no ProtocolError")


def test_remaining_length_varint_at_every_size_boundary():
    buf = bytearray(4)
    for n, encoded in ((0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16383, b"\xff\x7f"),
                       (16384, b"\x80\x80\x01"), (2097151, b"\xff\xff\x7f"),
                       (2097152, b"\x80\x80\x80\x01"), (268435455, b"\xff\xff\xff\x7f")):
        end = codec.put_varint(buf, 0, n)
        assert bytes(buf[:end]) == encoded, n
        assert codec.varint_size(n) == len(encoded)
        assert codec.decode_varint(encoded) == (n, len(encoded))


def test_bad_remaining_lengths_are_refused():
    _raises(lambda: codec.varint_size(268435456), "remaining length 268435456 out of range")
    _raises(lambda: codec.decode_varint(b"\xff\xff\xff\xff\x01"), "remaining length longer than 4 bytes")
    _raises(lambda: codec.decode_varint(b"\x80\x80"), "remaining length truncated")


def test_connect_carries_credentials_will_and_persistent_session():
    buf = bytearray(128)
    n = codec.connect_into(buf, "lamp1", 60, clean_session=False, user="lamp1", password="s3cret",
                           will_topic="pl/s/lamp1/status", will_message="offline", will_qos=1, will_retain=True)
    body = (b"\x00\x04MQTT\x04"
            b"\xec"  # user, password, will retain, will QoS 1, will flag; clean session off
            b"\x00\x3c"
            b"\x00\x05lamp1" b"\x00\x11pl/s/lamp1/status" b"\x00\x07offline" b"\x00\x05lamp1" b"\x00\x06s3cret")
    assert bytes(buf[:n]) == b"\x10" + bytes([len(body)]) + body


def test_minimal_clean_connect():
    buf = bytearray(32)
    n = codec.connect_into(buf, b"x", 30, clean_session=True)
    assert bytes(buf[:n]) == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x1e\x00\x01x"


def test_publish_flags_packet_id_and_payload():
    buf = bytearray(64)
    n = codec.publish_into(buf, "a/b", b"hi", qos=0)
    assert bytes(buf[:n]) == b"\x30\x07\x00\x03a/bhi"
    n = codec.publish_into(buf, "a/b", "hi", qos=1, retain=True, pid=0x1234)
    assert bytes(buf[:n]) == b"\x33\x09\x00\x03a/b\x12\x34hi"
    n = codec.publish_into(buf, "a/b", b"hi", qos=1, dup=True, pid=1)
    assert buf[0] == 0x3A  # a retransmission carries DUP
    n = codec.publish_into(buf, "a/b", b"hi", qos=0, dup=True)
    assert buf[0] == 0x30  # DUP is never set on QoS 0


def test_long_publish_uses_a_two_byte_length():
    buf = bytearray(300)
    n = codec.publish_into(buf, "t", b"x" * 200)
    assert bytes(buf[:3]) == b"\x30\xcb\x01" and n == 3 + 203


def test_publish_is_the_same_bytes_at_every_length_boundary_and_exact_fit():
    # the short-message path writes the header inline: it must agree with the spec's
    # encoding on both sides of each length boundary, and fill a buffer to the last byte
    for payload_len in (0, 121, 122, 123, 124, 16376, 16377, 16378, 16379):
        for qos in (0, 1):
            payload = bytes(i % 251 for i in range(payload_len))
            remaining = 2 + 5 + 2 * qos + payload_len
            head = bytes([0x30 | qos << 1]) + bytes(codec_varint(remaining)) + b"\x00\x05a/b/c"
            expected = head + (b"\x12\x34" if qos else b"") + payload
            buf = bytearray(len(expected))
            n = codec.publish_into(buf, "a/b/c", payload, qos=qos, pid=0x1234)
            assert bytes(buf[:n]) == expected, (payload_len, qos)
            _raises(lambda: codec.publish_into(bytearray(len(expected) - 1), "a/b/c", payload, qos=qos, pid=1),
                    "packet of %d bytes does not fit the %d-byte buffer" % (len(expected), len(expected) - 1))


def codec_varint(n):
    buf = bytearray(4)
    return buf[:codec.put_varint(buf, 0, n)]


def test_a_packet_that_does_not_fit_the_buffer_is_refused_not_truncated():
    buf = bytearray(16)
    _raises(lambda: codec.publish_into(buf, "topic", b"x" * 20),
            "packet of 29 bytes does not fit the 16-byte buffer")
    _raises(lambda: codec.publish_into(buf, "t", b"", qos=2), "QoS 2 is not supported (0 or 1)")


def test_subscribe_puback_and_fixed_packets():
    buf = bytearray(64)
    n = codec.subscribe_into(buf, 10, [("pl/s/lamp1/cmd/#", 1), (b"pl/s/group/g1/cmd/#", 1)])
    assert bytes(buf[:n]) == (b"\x82\x2b\x00\x0a" b"\x00\x10pl/s/lamp1/cmd/#\x01" b"\x00\x13pl/s/group/g1/cmd/#\x01")
    n = codec.puback_into(buf, 0xBEEF)
    assert bytes(buf[:n]) == b"\x40\x02\xbe\xef"
    assert codec.PINGREQ_PACKET == b"\xc0\x00" and codec.DISCONNECT_PACKET == b"\xe0\x00"


def test_parsing_what_the_broker_sends():
    assert codec.parse_connack(b"\x01\x00") == (True, 0)
    assert codec.parse_connack(b"\x00\x05") == (False, 5)
    assert codec.CONNACK_REASONS[5] == "not authorised"
    assert codec.parse_pid(b"\x01\x02") == 258
    assert codec.parse_suback(b"\x00\x07\x01\x80") == (7, [1, 0x80])
    body = b"\x00\x03a/b\x00\x2a{}"
    assert codec.parse_publish_head(0x32, body, len(body)) == (5, 42, 7)
    assert codec.parse_publish_head(0x30, b"\x00\x03a/b{}", 7) == (5, 0, 5)
    _raises(lambda: codec.parse_publish_head(0x30, b"\x00\x09a/b", 5),
            "PUBLISH topic of 9 bytes overruns the 5 bytes read")
    _raises(lambda: codec.parse_publish_head(0x34, body, len(body)), "QoS 2 PUBLISH from the broker is not supported")
    _raises(lambda: codec.parse_connack(b"\x00"), "CONNACK body of 1 bytes, expected 2")
