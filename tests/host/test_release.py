"""Releases on the host: the key pair, signed manifests, release numbers, the release server."""
import asyncio
import hashlib
import json

import pytest

from host_tools.release import build as builds
from host_tools.release import keys
from host_tools.release.server import ReleaseServer


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel")
    keys.keygen(root / "key")
    key = keys.load_private(root / "key" / keys.PRIVATE)
    return root, key, builds.build_release(root / "releases", key)


def test_keygen_keeps_the_private_key_private_and_never_overwrites_it(tmp_path):
    priv, pub = keys.keygen(tmp_path)
    assert priv.stat().st_mode & 0o777 == 0o600
    assert len(keys.load_public_hex(pub)) == 64
    with pytest.raises(keys.ReleaseKeyError, match="exists: every board provisioned with it"):
        keys.keygen(tmp_path)


def test_a_release_is_the_app_with_a_signed_manifest_of_every_file(signed):
    root, key, rel = signed
    data = (rel.path / "manifest.json").read_bytes()
    m = json.loads(data)
    assert (m["release"], m["version"], rel.sha256) == (1, rel.version, hashlib.sha256(data).hexdigest())
    assert keys.verify(keys.load_public_hex(root / "key" / keys.PUBLIC), data, (rel.path / "manifest.sig").read_bytes())
    assert {p for p, _, _ in m["files"]} == {p.relative_to(rel.path).as_posix()
                                             for p in rel.path.rglob("*.mpy")}
    for path, size, sha in m["files"]:
        blob = (rel.path / path).read_bytes()
        assert (len(blob), hashlib.sha256(blob).hexdigest()) == (size, sha)
    cmd = rel.command("http://10.0.0.5:8070/")
    assert cmd == {"version": rel.version, "manifest": "http://10.0.0.5:8070/1/manifest.json", "sha256": rel.sha256}


def test_release_numbers_only_go_up_unless_a_downgrade_is_signed(tmp_path):
    src = tmp_path / "src" / "lampctl"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text('VERSION = "9.9"\n')
    key = keys.load_private(keys.keygen(tmp_path / "key")[0])
    store = tmp_path / "releases"
    assert builds.build_release(store, key, source=src.parent).number == 1
    assert builds.build_release(store, key, number=5, source=src.parent).number == 5
    with pytest.raises(builds.ReleaseError, match="release 5 exists"):
        builds.build_release(store, key, number=5, source=src.parent)
    with pytest.raises(builds.ReleaseError, match="not above the latest \\(5\\): boards refuse it"):
        builds.build_release(store, key, number=3, source=src.parent)
    with pytest.raises(builds.ReleaseError, match="--downgrade-from 2: must name a release above 3"):
        builds.build_release(store, key, number=3, source=src.parent, downgrade_from=2)
    back = builds.build_release(store, key, number=3, source=src.parent, downgrade_from=5)
    assert json.loads((back.path / "manifest.json").read_bytes())["downgrade_from"] == 5
    assert builds.numbers(store) == [1, 3, 5]


def _get(port, path, headers=""):
    async def go():
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(f"GET {path} HTTP/1.0\r\n{headers}\r\n".encode())
        data = await r.read()
        w.close()
        return data
    return go()


def test_the_server_serves_ranges_and_nothing_outside_its_root(signed):
    root, _, rel = signed
    whole = (rel.path / "lampctl/app.mpy").read_bytes()

    async def main():
        server = await ReleaseServer(root / "releases").start()
        try:
            full = await _get(server.port, "/1/lampctl/app.mpy")
            part = await _get(server.port, "/1/lampctl/app.mpy", "Range: bytes=100-\r\n")
            missing = await _get(server.port, "/1/lampctl/nothing.mpy")
            escape = await _get(server.port, "/../key/release.key")
            return full, part, missing, escape, server.stats
        finally:
            await server.stop()
    full, part, missing, escape, stats = asyncio.run(main())
    assert full.startswith(b"HTTP/1.0 200") and full.endswith(whole)
    assert part.startswith(b"HTTP/1.0 206") and part.split(b"\r\n\r\n", 1)[1] == whole[100:]
    assert f"Content-Range: bytes 100-{len(whole) - 1}/{len(whole)}".encode() in part
    assert missing.startswith(b"HTTP/1.0 404") and escape.startswith(b"HTTP/1.0 404")
    assert stats.by_status == {200: 1, 206: 1, 404: 2}
