# The release signature check the board runs: SHA-512 and Ed25519 in our own
# MicroPython code, against RFC 8032's test vectors and FIPS 180-4's digests.
from binascii import hexlify, unhexlify

from lampctl import ed25519
from lampctl.sha512 import SHA512

# RFC 8032 section 7.1, tests 1-3 (public key, message, signature)
VECTORS = [
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


def test_sha512_matches_the_standard_digests():
    assert hexlify(SHA512(b"abc").digest()).decode() == (
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    assert hexlify(SHA512(b"").digest()).decode().startswith("cf83e1357eefb8bdf1542850d66d8007")
    h = SHA512()
    for _ in range(10):
        h.update(b"a" * 100)  # pieces that straddle the 128-byte blocks
    assert h.digest() == SHA512(b"a" * 1000).digest()
    assert hexlify(SHA512(b"a" * 1000).digest()).decode().startswith("67ba5535a46e3f86dbfbed8cbbaf0125")


def test_rfc8032_signatures_verify():
    for key, msg, sig in VECTORS:
        assert ed25519.verify(unhexlify(key), unhexlify(msg), unhexlify(sig))


def test_a_message_can_be_checked_in_pieces():
    key, _, sig = VECTORS[2]
    assert ed25519.verify(unhexlify(key), [b"\xaf", memoryview(b"\x82")], unhexlify(sig))


def test_anything_changed_fails():
    key, msg, sig = [unhexlify(x) for x in VECTORS[1]]
    assert not ed25519.verify(key, b"\x73", sig)                   # another message
    assert not ed25519.verify(unhexlify(VECTORS[0][0]), msg, sig)  # another key
    for i in (0, 31, 32, 63):                                      # R or s touched
        bad = bytearray(sig)
        bad[i] ^= 1
        assert not ed25519.verify(key, msg, bytes(bad))
    assert not ed25519.verify(key, msg, sig[:63])
    assert not ed25519.verify(b"\xff" * 32, msg, sig)               # not a point on the curve


def test_a_non_canonical_s_is_refused():
    key, msg, sig = [unhexlify(x) for x in VECTORS[1]]
    s = int.from_bytes(sig[32:], "little") + ed25519.L  # same point, malleated
    assert not ed25519.verify(key, msg, sig[:32] + s.to_bytes(32, "little"))
