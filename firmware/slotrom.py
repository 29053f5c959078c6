# The running app slot's code, run in place from flash (docs/ota.md). On a
# firmware with a ROMFS partition the loader copies the slot to run (app/a or
# app/b on LittleFS) into it as a ROMFS image: the firmware mounts it at /rom
# as it starts, and the app's .mpy then run where they lie, their bytecode
# taking no GC heap (93 KB of the 96 KB budget, docs/vboard.md). The slots
# stay the truth (provisioning and updates write them, by file); the
# partition is a copy of one, made again whenever it does not hold the slot
# to run. It holds the slot's manifest.json, which names the release and
# every file's hash, so comparing the two manifests tells (appslot does, at
# every boot; this module is loaded only when they differ). Beside appslot
# and never replaced over the air.
#
# After a copy the board resets, and its firmware mounts the new image (the
# stubs' API has no way to mount one from Python). A copy that completed but
# does not mount is not made again (a note, appslot.COPIED, holds the sha256
# of the manifest last copied): the app then runs from LittleFS rather than the
# board resetting for ever; the note also keeps the reset cause the loader's
# reset replaces (appslot.reset_cause). Every file is checked against its
# manifest's sha256 as it is copied; a slot whose files differ is not copied
# (a module put back by hand after a crash, docs/safety.md, must not be hidden
# behind an older copy). A power cut mid-copy: the image's
# first block is programmed last, so until the copy is complete the partition
# holds no ROMFS at all, nothing mounts, and the next boot copies again.
import binascii
import hashlib
import json
import os

import vfs

ROM = "/rom"
BLOCK = 4096
_HEADER = b"\xd2\xcd\x31"
_DATA, _DIR, _FILE = 2, 4, 5
MANIFEST = "manifest.json"
MAINTENANCE = "maintenance"  # the provisioning tool's flag (lampctl.early): it is at work on the board


def partition():
    """The ROMFS partition, or None on a firmware without one (a stock image)."""
    try:
        return vfs.rom_ioctl(2, 0) if vfs.rom_ioctl(1) > 0 else None
    except (AttributeError, OSError):
        return None


def capacity(part):
    return part.ioctl(4, 0) * part.ioctl(5, 0)


def entries(slot):
    """[path, size, sha256] of what the copy holds: the files the slot's
    manifest lists, and the manifest itself (its sha256 None: not checked)."""
    with open(slot + "/" + MANIFEST) as f:
        files = json.load(f)["files"]
    files.append([MANIFEST, os.stat(slot + "/" + MANIFEST)[6], None])
    return files


def _ulen(n):
    k = 1
    while n >= 0x80:
        n >>= 7
        k += 1
    return k


def _uint(n):
    """ROMFS's unsigned integer: 7 bits a byte, most significant first."""
    k = _ulen(n)
    out = bytearray(k)
    for i in range(k - 1, -1, -1):
        out[i] = (n & 0x7F) | (0x80 if i < k - 1 else 0)
        n >>= 7
    return out


def _tree(files):
    """{name: [size, sha256] or {name: ...}} from [path, size, sha256] entries."""
    root = {}  # type: dict
    for path, size, sha in files:
        node = root
        parts = path.split("/")
        for d in parts[:-1]:
            node = node.setdefault(d, {})
        node[parts[-1]] = [size, sha]
    return root


def _payload(name, node):
    """The length of a record's payload: a file's name and data, or a directory's name and records."""
    if isinstance(node, dict):
        inner = sum(_record(n, c) for n, c in node.items())
    else:
        inner = 1 + _ulen(node[0]) + node[0]
    return _ulen(len(name)) + len(name) + inner


def _record(name, node):
    p = _payload(name, node)
    return 1 + _ulen(p) + p


def _body(tree):
    return sum(_record(n, c) for n, c in tree.items())


def _lead(tree):
    """The image's header and length (padded to an even image, as mpremote's images are)."""
    body = _body(tree)
    ln = _uint(body)
    if (len(_HEADER) + len(ln) + body) % 2:
        ln = b"\x80" + ln
    return _HEADER + ln, body


def image_size(files):
    """Bytes of the ROMFS image of these [path, size, sha256] entries (a
    manifest's, and the manifest): what an update checks before it starts."""
    lead, body = _lead(_tree(files))
    return len(lead) + body


class _Writer:
    """Programs the image block by block into an erased partition, its first block last."""

    def __init__(self, part):
        self.part = part
        self.buf = bytearray(BLOCK)
        self.first = None
        self.at = 0

    def write(self, data):
        mv = memoryview(data)
        while mv:
            i = self.at % BLOCK
            n = min(BLOCK - i, len(mv))
            self.buf[i:i + n] = mv[:n]
            self.at += n
            mv = mv[n:]
            if i + n == BLOCK:
                self._flush(BLOCK)

    def fill(self, f, size, h):
        """Copy `size` bytes of an open file straight into the block buffer, hashing them into h."""
        mv = memoryview(self.buf)
        while size:
            i = self.at % BLOCK
            n = f.readinto(mv[i:i + min(BLOCK - i, size)])
            if not n:
                raise OSError(5)  # shorter than its manifest says
            h.update(mv[i:i + n])
            self.at += n
            size -= n
            if i + n == BLOCK:
                self._flush(BLOCK)

    def _flush(self, n):
        block = (self.at - 1) // BLOCK
        if block == 0:
            self.first = bytes(self.buf[:n])
        else:
            self.part.writeblocks(block, memoryview(self.buf)[:n], 0)

    def close(self):
        if self.at % BLOCK:
            self._flush(self.at % BLOCK)
        self.part.writeblocks(0, self.first, 0)  # the header: only now is it a ROMFS
        self.part.ioctl(3, 0)


def _write(w, slot, prefix, tree):
    for name in sorted(tree):
        node = tree[name]
        w.write(bytes([_DIR if isinstance(node, dict) else _FILE]))
        w.write(_uint(_payload(name, node)))
        w.write(_uint(len(name)))
        w.write(name.encode())
        if isinstance(node, dict):
            _write(w, slot, prefix + name + "/", node)
        else:
            size, sha = node
            w.write(bytes([_DATA]))
            w.write(_uint(size))
            h = hashlib.sha256()
            with open(slot + "/" + prefix + name, "rb") as f:
                w.fill(f, size, h)
            if sha is not None and binascii.hexlify(h.digest()).decode() != sha:
                # a file changed behind its manifest (a hand-copied module, a flash error):
                # no copy, so the app runs what the slot holds and the fault shows
                raise ValueError("%s%s differs from its manifest" % (prefix, name))


def copy(part, slot):
    """Make the partition the copy of this slot (mounted at the next start)."""
    tree = _tree(entries(slot))
    lead, body = _lead(tree)
    size = len(lead) + body
    if size > capacity(part):
        raise OSError(28)  # an update checks this before it switches (lampctl.ota)
    try:
        vfs.umount(ROM)
    except OSError:
        pass
    print("pilotlight: copying app %s into ROMFS (%d bytes)" % (slot, size))
    for b in range((size + BLOCK - 1) // BLOCK):
        part.ioctl(6, b)
    w = _Writer(part)
    w.write(lead)
    _write(w, slot, "", tree)
    w.close()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _manifest_sha(slot):
    h = hashlib.sha256()
    with open(slot + "/" + MANIFEST, "rb") as f:
        while True:
            chunk = f.read(512)
            if not chunk:
                return binascii.hexlify(h.digest()).decode()
            h.update(chunk)


def _copied(note):
    try:
        with open(note) as f:
            return f.read().split(" ")[0]
    except OSError:
        return None


def run_from(slot, note, cause):
    """The import path of a slot whose copy /rom is not: none here (after
    copying it, the board resets, leaving in the file `note` the manifest's
    sha256 and the reset `cause` its reset replaces), or the slot itself on a
    firmware without ROMFS, or where its copy cannot be made or does not mount
    (the app then runs from LittleFS, if its heap allows)."""
    part = partition()
    if part is None or _exists(MAINTENANCE):  # the tool's soft resets must come back to its REPL
        return "/" + slot
    try:
        sha = _manifest_sha(slot)
        if sha == _copied(note):
            print("pilotlight: the ROMFS copy of app %s does not mount: running it from LittleFS" % slot)
            return "/" + slot
        copy(part, slot)
    except Exception as e:  # whatever it is, the app must still be found
        print("pilotlight: app %s not copied into ROMFS: %r" % (slot, e))
        return "/" + slot
    import machine
    with open(note, "w") as f:
        f.write("%s %d" % (sha, cause))
    machine.reset()
