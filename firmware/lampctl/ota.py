# An over-the-air update of the app (docs/ota.md), loaded only while one runs.
# The manifest is fetched and checked first (its sha256 against the command,
# its Ed25519 signature against the release key on this board's flash, its
# release number against the running one, its size against the free flash
# and, on a firmware with one, against the ROMFS partition the loader copies
# the app into at the switch (slotrom);
# then the other slot is filled file by file (copied from the running slot
# when unchanged, else downloaded, resuming a partial file), every file's
# sha256 is checked on flash, and only then does appslot's pointer switch.
# The job file makes the update survive a reboot or a lost link.
import asyncio
import binascii
import gc
import hashlib
import json
import os
import sys

import appslot
import machine
from lampctl import ota_http, release, store

# Set by the update boot (app.shutdown): what to save before a planned reset.
before_reset = None

KEY_PATH = "ota.pub"          # the fleet's release key, written at provisioning (64 hex digits)
MANIFEST_MAX = 16384
CHUNK = 512                   # the one buffer every byte of an update passes through
SYNC_BYTES = 4096             # a download is committed to flash every block (a power cut loses less)
ATTEMPTS = 3                  # tries per update boot before the app runs again
RETRY_MS = 5000               # the wait after a failed try grows by this each time
LINK_WAIT_MS = 60000          # for the network link to come up
PROGRESS_STEP = 25            # percent between progress lines on the console
_buf = bytearray(CHUNK)


class Refused(Exception):
    """The release cannot be installed; the text says why (for the event)."""


def _other(slot):
    return "b" if slot == "a" else "a"


def _hex(b):
    return binascii.hexlify(b).decode()


def begin():
    """The pending job, its try counted (a job that keeps failing pauses, release.MAX_TRIES)."""
    job = release.job()
    job["tries"] = job.get("tries", 0) + 1
    release.save_job(job)
    return job


async def run(job, link, events):
    """Update boot: fetch, check, install and switch; any outcome ends in a reset."""
    for attempt in range(ATTEMPTS):
        waited = 0
        while not link.online and waited < LINK_WAIT_MS:
            await asyncio.sleep_ms(250)
            waited += 250
        try:
            await _update(job, events)  # switches and resets on success
        except Refused as e:
            _finish(str(e), job)
        except (OSError, ValueError) as e:  # the link or the server: resumed at the next try
            print("pilotlight: update attempt %d: %s: %s" % (attempt + 1, type(e).__name__, e))
            await asyncio.sleep_ms(RETRY_MS * (attempt + 1))
    _reset()  # the app runs again; the job waits for the next update boot (or pauses)


def _finish(reason, job):
    """A refused release: the old app stays, and reports why at its next boot."""
    print("pilotlight: update refused:", reason)
    store.write_atomic(release.RESULT, "%s\n%s" % (reason, job["version"]))
    release.remove(release.JOB)
    _reset()


def _reset():
    if before_reset is not None:
        before_reset()  # a planned reset loses no state and no energy
    machine.reset()


def _base(url):
    return url[:url.rfind("/") + 1]


async def _fetch_manifest(url, path):
    """Stream the manifest to flash (no large run of RAM); its sha256 hex."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        def sink(mv):
            h.update(mv)
            f.write(mv)
        await ota_http.get(url, _buf, sink, limit=MANIFEST_MAX)
    return _hex(h.digest())


async def _fetch_signature(url):
    got = bytearray()
    await ota_http.get(url, _buf, got.extend, limit=64)
    return bytes(got)


def _pieces(path):
    with open(path, "rb") as f:
        while True:
            k = f.readinto(_buf)
            if not k:
                return
            yield memoryview(_buf)[:k]


def _file_hash(path, size=None):
    """sha256 hex of a file on flash, or None when it is missing or not `size` bytes."""
    h = hashlib.sha256()
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                k = f.readinto(_buf)
                if not k:
                    break
                h.update(memoryview(_buf)[:k])
                n += k
    except OSError:
        return None
    if size is not None and n != size:
        return None
    return _hex(h.digest())


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _makedirs(path):
    d = ""
    for part in path.split("/")[:-1]:
        d = d + part
        try:
            os.mkdir(d)
        except OSError:
            pass
        d += "/"


def _walk(top, out):
    try:
        entries = list(os.ilistdir(top))
    except OSError:
        return out
    for e in entries:
        p = top + "/" + e[0]
        if e[1] == 0x4000:
            _walk(p, out)
        else:
            out.append(p)
    return out


def _check_manifest(path, sig):
    """The manifest on flash, as a dict, or Refused saying what is wrong with it."""
    try:
        with open(KEY_PATH) as f:
            key = binascii.unhexlify(f.read().strip())
    except (OSError, ValueError):
        raise Refused("no release key on this board (%s): provision it with one" % KEY_PATH)
    gc.collect()
    from lampctl import ed25519
    ok = ed25519.verify(key, _pieces(path), sig)
    for name in ("lampctl.ed25519", "lampctl.sha512"):  # needed once: their RAM back to the app
        sys.modules.pop(name, None)
    gc.collect()
    if not ok:
        raise Refused("manifest: the signature does not verify with this board's release key")
    try:
        with open(path) as f:
            m = json.load(f)
        m["release"] = int(m["release"])
        m["version"] = str(m["version"])
        for name, size, sha in m["files"]:
            if not isinstance(size, int) or size < 0 or len(sha) != 64 or name.startswith("/") \
                    or ".." in name.split("/") or "/" not in name:
                raise ValueError(name)
    except (ValueError, KeyError, TypeError) as e:
        raise Refused("manifest: malformed (%s)" % e)
    return m


def _check_release(m, job):
    running, _ = release.running()
    n = m["release"]
    if m["version"] != job["version"]:
        raise Refused("manifest: version %s, the command said %s" % (m["version"], job["version"]))
    if n < running and m.get("downgrade_from") != running:
        raise Refused("release %d is older than the running release %d (no signed downgrade permission)"
                      % (n, running))
    if n == running and m["version"] == release.running()[1]:
        raise Refused("release %d is already running" % n)


def _check_space(files, slot):
    """Refuse, before anything is written, a release the flash cannot hold."""
    st = os.statvfs("/")
    block = st[0] or 4096
    need = sum((size + block - 1) // block + 1 for _path, size, _sha in files) + 2
    have = sum((_size(p) + block - 1) // block + 1 for p in _walk(slot, []))
    free = st[3] + have
    if need > free:
        raise Refused("release needs %d KB of flash, %d KB free for it" % (need * block // 1024,
                                                                           free * block // 1024))
    import slotrom
    part = slotrom.partition()
    if part is not None:
        image = slotrom.image_size(files + [[slotrom.MANIFEST, _size(slot + "/" + slotrom.MANIFEST), None]])
        room = slotrom.capacity(part)
        if image > room:
            raise Refused("release's app is %d bytes as ROMFS, the partition holds %d" % (image, room))


def _listed(files, path):
    """The manifest entry [path, size, sha256] for path, or None (lists, not a dict:
    a dict of every file would need one large run of RAM)."""
    for f in files:
        if f[0] == path:
            return f
    return None


def _clear_others(slot, files):
    """Remove from the slot what the new release does not have (an older app, a stray file)."""
    n = len(slot) + 1
    for p in _walk(slot, []):
        rel = p[n:]
        if rel not in ("manifest.json", "manifest.sig") and _listed(files, rel) is None:
            os.remove(p)


async def _verified_manifest(job, slot):
    """Fetch and check the manifest and its signature into the slot: the manifest."""
    _makedirs(slot + "/manifest.json")
    for name in ("manifest.json", "manifest.sig"):
        try:
            os.remove(slot + "/" + name)
        except OSError:
            pass
    if await _fetch_manifest(job["manifest"], slot + "/manifest.json") != job["sha256"]:
        raise Refused("manifest: sha256 differs from the one the command named")
    sig = await _fetch_signature(_base(job["manifest"]) + "manifest.sig")
    m = _check_manifest(slot + "/manifest.json", sig)
    _check_release(m, job)
    _check_space(m["files"], slot)
    with open(slot + "/manifest.sig", "wb") as f:
        f.write(sig)
    return m


async def _update(job, events):
    run = appslot.state()["run"]
    slot = appslot.slot_dir(_other(run))
    m = await _verified_manifest(job, slot)
    files = m["files"]
    _clear_others(slot, files)
    running = _running_files(run)
    base = _base(job["manifest"])
    total = sum(f[1] for f in files)
    done = fetched = step = 0
    for path, size, sha in files:
        dest = slot + "/" + path
        if _file_hash(dest, size) != sha:
            same = _listed(running, path)
            if not (same and same[2] == sha and _copy(appslot.slot_dir(run) + "/" + path, dest) == sha):
                fetched += await _download(base + path, dest, size)
                if _file_hash(dest, size) != sha:
                    os.remove(dest)
                    raise Refused("%s: sha256 differs from the signed manifest's" % path)
        done += size
        pct = done * 100 // max(total, 1)
        if pct >= step + PROGRESS_STEP:
            step = pct - pct % PROGRESS_STEP
            events.emit("ota_progress", None, version=job["version"], percent=step, downloaded=fetched)
        await asyncio.sleep_ms(0)
    await _switch(run, m, job, events)


def _running_files(run):
    """The running slot's manifest entries, to copy unchanged files instead of downloading."""
    try:
        with open(appslot.slot_dir(run) + "/manifest.json") as f:
            return json.load(f)["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _copy(src, dest):
    """Copy a file on flash; its sha256, or None when it cannot be read."""
    h = hashlib.sha256()
    _makedirs(dest)
    try:
        with open(src, "rb") as fi, open(dest, "wb") as fo:
            while True:
                k = fi.readinto(_buf)
                if not k:
                    break
                mv = memoryview(_buf)[:k]
                h.update(mv)
                fo.write(mv)
    except OSError:
        return None
    return _hex(h.digest())


async def _download(url, dest, size):
    """Fetch a file into place, resuming after what is already there."""
    have = _size(dest)
    if have < 0 or have > size:
        have = 0
    _makedirs(dest)
    with open(dest, "ab" if have else "wb") as f:
        if have == size:
            return 0
        unsynced = [0]

        def sink(mv):
            f.write(mv)
            unsynced[0] += len(mv)
            if unsynced[0] >= SYNC_BYTES:
                f.flush()  # LittleFS keeps written data only once synced: the point a power cut resumes from
                unsynced[0] = 0
        return await ota_http.get(url, _buf, sink, offset=have)


async def _switch(run, m, job, events):
    from apptrial import write
    write({"run": _other(run), "good": run, "release": m["release"], "version": m["version"],
                   "bound_s": job["bound_s"], "trial": 0})
    release.remove(release.JOB)
    events.emit("ota_switched", None, release=m["release"], version=m["version"])
    _reset()
