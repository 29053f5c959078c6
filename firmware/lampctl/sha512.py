# SHA-512 (FIPS 180-4) for the Ed25519 check: MicroPython's hashlib has no
# sha512 on the ESP32. A 64-bit word is four 16-bit limbs (least significant
# first), so every value stays a small int on a 32-bit build (small ints end at
# 2**30 there; a 32-bit half would be a heap-allocated big int at every step).
from binascii import unhexlify

M = 0xFFFF
# First 64 bits of the fractional parts of the cube roots of the first 80
# primes (K) and of the square roots of the first 8 (H0), big-endian; in
# pieces of 5 words, as the heap may have no large free run (nothing here
# allocates more than a few hundred bytes at once).
_K = tuple(unhexlify(s) for s in (
    "428a2f98d728ae227137449123ef65cdb5c0fbcfec4d3b2fe9b5dba58189dbbc3956c25bf348b538",
    "59f111f1b605d019923f82a4af194f9bab1c5ed5da6d8118d807aa98a303024212835b0145706fbe",
    "243185be4ee4b28c550c7dc3d5ffb4e272be5d74f27b896f80deb1fe3b1696b19bdc06a725c71235",
    "c19bf174cf692694e49b69c19ef14ad2efbe4786384f25e30fc19dc68b8cd5b5240ca1cc77ac9c65",
    "2de92c6f592b02754a7484aa6ea6e4835cb0a9dcbd41fbd476f988da831153b5983e5152ee66dfab",
    "a831c66d2db43210b00327c898fb213fbf597fc7beef0ee4c6e00bf33da88fc2d5a79147930aa725",
    "06ca6351e003826f142929670a0e6e7027b70a8546d22ffc2e1b21385c26c9264d2c6dfc5ac42aed",
    "53380d139d95b3df650a73548baf63de766a0abb3c77b2a881c2c92e47edaee692722c851482353b",
    "a2bfe8a14cf10364a81a664bbc423001c24b8b70d0f89791c76c51a30654be30d192e819d6ef5218",
    "d69906245565a910f40e35855771202a106aa07032bbd1b819a4c116b8d2d0c81e376c085141ab53",
    "2748774cdf8eeb9934b0bcb5e19b48a8391c0cb3c5c95a634ed8aa4ae3418acb5b9cca4f7763e373",
    "682e6ff3d6b2b8a3748f82ee5defb2fc78a5636f43172f6084c87814a1f0ab728cc702081a6439ec",
    "90befffa23631e28a4506cebde82bde9bef9a3f7b2c67915c67178f2e372532bca273eceea26619c",
    "d186b8c721c0c207eada7dd6cde0eb1ef57d4f7fee6ed17806f067aa72176fba0a637dc5a2c898a6",
    "113f9804bef90dae1b710b35131c471b28db77f523047d8432caab7b40c724933c9ebe0a15c9bebc",
    "431d67c49c100d4c4cc5d4becb3e42b6597f299cfc657e2a5fcb6fab3ad6faec6c44198c4a475817",
))
_H0 = tuple(unhexlify(s) for s in (
    "6a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1",
    "510e527fade682d19b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179",
))


def _limbs(b, i):
    """The 64-bit big-endian word at b[i:i+8] as 4 limbs, least significant first."""
    return [(b[i + 6] << 8) | b[i + 7], (b[i + 4] << 8) | b[i + 5], (b[i + 2] << 8) | b[i + 3], (b[i] << 8) | b[i + 1]]


def _rotr(a, n):
    q, r = n >> 4, n & 15
    if q:
        a = a[q:] + a[:q]
    s = 16 - r
    return [((a[0] >> r) | (a[1] << s)) & M, ((a[1] >> r) | (a[2] << s)) & M,
            ((a[2] >> r) | (a[3] << s)) & M, ((a[3] >> r) | (a[0] << s)) & M]


def _shr(a, n):  # n < 16
    s = 16 - n
    return [((a[0] >> n) | (a[1] << s)) & M, ((a[1] >> n) | (a[2] << s)) & M,
            ((a[2] >> n) | (a[3] << s)) & M, a[3] >> n]


def _x3(a, b, c):
    return [a[0] ^ b[0] ^ c[0], a[1] ^ b[1] ^ c[1], a[2] ^ b[2] ^ c[2], a[3] ^ b[3] ^ c[3]]


def _add(*ws):
    out = [0, 0, 0, 0]
    c = 0
    for i in range(4):
        for w in ws:
            c += w[i]
        out[i] = c & M
        c >>= 16
    return out


class SHA512:
    """hashlib-style: update(bytes) any number of times, then digest()."""

    def __init__(self, data=b""):
        self._h = [_limbs(_H0[i // 4], 8 * (i % 4)) for i in range(8)]
        self._buf = bytearray(128)
        self._fill = 0
        self._n = 0
        if data:
            self.update(data)

    def update(self, data):
        self._n += len(data)
        mv = memoryview(data)
        i = 0
        while i < len(mv):
            k = min(128 - self._fill, len(mv) - i)
            self._buf[self._fill:self._fill + k] = mv[i:i + k]
            self._fill += k
            i += k
            if self._fill == 128:
                self._block(self._buf, 0)
                self._fill = 0

    def _block(self, b, at):
        w = [_limbs(b, at + 8 * t) for t in range(16)]  # the schedule, 16 words rolling
        a, b_, c, d, e, f, g, h = self._h
        for t in range(80):
            ch = [(e[i] & f[i]) ^ ((e[i] ^ M) & g[i]) for i in range(4)]
            if t >= 16:
                x, y = w[(t - 15) & 15], w[(t - 2) & 15]
                w[t & 15] = _add(_x3(_rotr(y, 19), _rotr(y, 61), _shr(y, 6)), w[(t - 7) & 15],
                                 _x3(_rotr(x, 1), _rotr(x, 8), _shr(x, 7)), w[t & 15])
            t1 = _add(h, _x3(_rotr(e, 14), _rotr(e, 18), _rotr(e, 41)), ch, _limbs(_K[t // 5], 8 * (t % 5)), w[t & 15])
            maj = [(a[i] & b_[i]) ^ (a[i] & c[i]) ^ (b_[i] & c[i]) for i in range(4)]
            t2 = _add(_x3(_rotr(a, 28), _rotr(a, 34), _rotr(a, 39)), maj)
            h, g, f, e, d, c, b_, a = g, f, e, _add(d, t1), c, b_, a, _add(t1, t2)
        self._h = [_add(x, y) for x, y in zip(self._h, (a, b_, c, d, e, f, g, h))]

    def digest(self):
        bits = self._n * 8
        pad = b"\x80" + bytes((111 - self._n) % 128) + bytes(8) + bits.to_bytes(8, "big")
        saved = (self._h, bytearray(self._buf), self._fill, self._n)
        self.update(pad)
        out = bytearray()
        for w in self._h:
            for limb in (w[3], w[2], w[1], w[0]):
                out.append(limb >> 8)
                out.append(limb & 0xFF)
        self._h, self._buf, self._fill, self._n = saved
        return bytes(out)
