# Ed25519 signature check (RFC 8032, section 5.1.7), for the release key on
# flash: only verification, never a private key on a board. Big integers are
# MicroPython's own (mpz); points are in extended coordinates (X, Y, Z, T),
# so the only divisions are one square root (decoding the key) and one
# inversion (encoding the result).
from lampctl.sha512 import SHA512

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493  # the group order
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
_BY = 4 * pow(5, P - 2, P) % P  # the base point's y; its x is even
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202


def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % P
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _decode(s):
    """The curve point encoded in 32 bytes, or None when it is not one."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vx2 = v * x * x % P
    if vx2 == (P - u) % P:
        x = x * SQRT_M1 % P
    elif vx2 != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _encode(p):
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def verify(public_key, message, signature):
    """True only when `signature` (64 bytes) is the key's signature of `message`:
    bytes, or an iterable of byte pieces (a file read in chunks, never whole in RAM)."""
    if len(signature) != 64:
        return False
    a = _decode(public_key)
    if a is None:
        return False
    r_bytes = signature[:32]
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False  # not canonical: RFC 8032 refuses it (malleability)
    hs = SHA512(r_bytes)
    hs.update(public_key)
    for piece in (message,) if isinstance(message, (bytes, bytearray, memoryview)) else message:
        hs.update(piece)
    k = int.from_bytes(hs.digest(), "little") % L
    # [s]B - [k]A, both scalars in one pass (Straus), must encode to R.
    neg_a = ((P - a[0]) % P, a[1], a[2], (P - a[3]) % P)
    b = (_BX, _BY, 1, _BX * _BY % P)
    both = _add(b, neg_a)
    q = (0, 1, 1, 0)
    for i in range(252, -1, -1):  # s and k are below L < 2**253
        q = _double(q)
        sb, kb = (s >> i) & 1, (k >> i) & 1
        if sb and kb:
            q = _add(q, both)
        elif sb:
            q = _add(q, b)
        elif kb:
            q = _add(q, neg_a)
    return _encode(q) == bytes(r_bytes)
