"""Fast, verified file sync to a board over its raw REPL.

At 115200 baud the serial line is the bottleneck, so we send as few bytes as
we can and keep the line busy:
- ask the board for the sha256 of what it holds, and send only what differs;
- deflate the files to send as ONE raw-deflate stream (the .mpy files share
  much of their vocabulary), base64 it (the REPL only takes text) and send it
  in large chunks through raw-paste mode, whose flow control keeps the line full;
- the board stages the stream in a file, then inflates it with its `deflate`
  module into temporary files, checks the sha256 of all it inflated, and only
  then renames them into place, so a cut cable never leaves a half-written module;
- afterwards the board hashes every file again and answers with one digest of
  the whole listing (the full listing only when something differs).
mpremote's `fs cp` sends 256-byte repr-escaped chunks and waits for each."""
from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Callable

from .session import Session

# The board inflates with a 2**WBITS-byte window: 4 KB of its heap, in one
# piece. A 16 KB window (a stream a few percent shorter) did not always find
# 16 KB in one piece on a board that had run the app, in the ESP32-sized heap.
WBITS = 12
CHUNK = 8192            # compressed bytes per raw-paste exec (11 KB of base64 source on the board)
STAGING = ".pl_sync.z"  # the compressed stream on the board's flash, until it is unpacked
TMP_SUFFIX = ".pl~"

# Board side: sha256 of the named files and of every file under the owned
# folders, as sorted "hash path" lines; with _S true, only the sha256 of those
# lines (64 bytes back instead of a line per file, when all is well). The raw
# REPL keeps globals between execs: the listing is deleted, or its RAM (two
# app slots: ~90 lines) is what the unpack's inflate window then lacks.
_HASHES = """\
import os,hashlib,binascii
_S=%r
_L=[]
def _h(p):
 h=hashlib.sha256();b=bytearray(1024);m=memoryview(b)
 with open(p,'rb') as f:
  while 1:
   n=f.readinto(b)
   if not n:break
   h.update(m[:n])
 _L.append(binascii.hexlify(h.digest()).decode()+' '+p+'\\n')
def _w(d):
 for e in os.ilistdir(d):
  p=d+'/'+e[0]
  if e[1]==0x4000:_w(p)
  else:_h(p)
for p in %r:
 try:_h(p)
 except OSError:pass
for d in %r:
 try:_w(d)
 except OSError:pass
_L.sort(key=lambda l:l[65:])
if _S:
 h=hashlib.sha256()
 for l in _L:h.update(l)
 print(binascii.hexlify(h.digest()).decode())
else:
 for l in _L:print(l,end='')
del _L
"""

# Board side: open the staging file and take base64 chunks.
_OPEN = """\
import binascii
_f=open(%r,'wb')
def _c(s):_f.write(binascii.a2b_base64(s))
""" % STAGING

# Board side: inflate the staged stream into temporary files, check the
# sha256 of all that came out, and only then rename them into place.
_UNPACK = """\
import os,hashlib,binascii,deflate
_f.close()
def _mk(p):
 d=''
 for s in p.split('/')[:-1]:
  d=d+s
  try:os.mkdir(d)
  except OSError:pass
  d=d+'/'
def _un(files,whole):
 import gc;gc.collect()
 b=bytearray(1024);m=memoryview(b);h=hashlib.sha256()
 with open(%(staging)r,'rb') as z:
  s=deflate.DeflateIO(z,deflate.RAW,%(wbits)d)
  for p,n in files:
   _mk(p)
   with open(p+%(tmp)r,'wb') as o:
    while n:
     k=s.readinto(m[:min(n,1024)])
     if not k:raise OSError('stream ends early at '+p)
     h.update(m[:k]);o.write(m[:k]);n-=k
 if binascii.hexlify(h.digest()).decode()!=whole:raise OSError('the files arrived damaged: nothing replaced')
 for p,n in files:
  try:os.rename(p+%(tmp)r,p)
  except OSError:
   os.remove(p);os.rename(p+%(tmp)r,p)
 os.remove(%(staging)r)
 print(len(files))
""" % {"staging": STAGING, "wbits": WBITS, "tmp": TMP_SUFFIX}

_REMOVE = """\
import os
for p in %r:
 try:os.remove(p)
 except OSError:pass
"""


class SyncError(Exception):
    """The files on the board do not match the bundle after a sync."""


@dataclass
class SyncReport:
    copied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_sent: int = 0          # what went down the line, every byte of the REPL traffic included
    payload_bytes: int = 0       # the files' own size, uncompressed


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compress(blobs: list[bytes]) -> bytes:
    """The files one after the other, as one raw deflate stream (no zlib header)."""
    z = zlib.compressobj(9, zlib.DEFLATED, -WBITS)
    return b"".join(z.compress(b) for b in blobs) + z.flush()


def encode_chunks(stream: bytes, size: int = CHUNK) -> list[bytes]:
    """Board code, one exec each, that appends the stream to the staging file."""
    return [b"_c(b'" + base64.b64encode(stream[i:i + size]) + b"')" for i in range(0, len(stream), size)]


def unpack_code(files: dict[str, bytes]) -> str:
    entries = [(p, len(b)) for p, b in files.items()]
    return _UNPACK + "_un(%r,%r)\n" % (entries, sha256(b"".join(files.values())))


# The app's folder before it moved into the update slots (app/a, app/b): stale on boards
# provisioned then, so still ours to empty.
RETIRED_DIRS = {"lampctl"}


def owned_dirs(manifest: dict[str, str]) -> list[str]:
    """Folders the bundle owns on the board: anything else there is ours to remove."""
    return sorted({p.split("/", 1)[0] for p in manifest if "/" in p} | RETIRED_DIRS)


def _listing(manifest: dict[str, str]) -> list[str]:
    return [f"{h} {p}\n" for p, h in sorted(manifest.items())]


def _hashes_code(manifest: dict[str, str], summary: bool) -> str:
    return _HASHES % (summary, sorted(p for p in manifest if "/" not in p), owned_dirs(manifest))


def board_hashes(session: Session, manifest: dict[str, str]) -> dict[str, str]:
    """{path: sha256} of the bundle's files the board has, and of every file under the owned folders."""
    found = {}
    for line in session.exec(_hashes_code(manifest, False), timeout=30).splitlines():
        digest, _, path = line.strip().partition(" ")
        if path:
            found[path] = digest
    return found


def board_matches(session: Session, manifest: dict[str, str]) -> bool:
    """True when the board holds exactly the manifest (each file hashed there), in one short answer."""
    want = sha256("".join(_listing(manifest)).encode())
    return session.exec(_hashes_code(manifest, True), timeout=30).strip() == want


def plan(manifest: dict[str, str], on_board: dict[str, str]) -> tuple[list[str], list[str]]:
    """(files to copy, files to remove): what differs, and what under the owned folders is not ours."""
    owned = tuple(d + "/" for d in owned_dirs(manifest))
    copy = sorted(p for p, h in manifest.items() if on_board.get(p) != h)
    remove = sorted(p for p in on_board if p not in manifest and p.startswith(owned))
    return copy, remove


def sync(session: Session, files: dict[str, bytes], progress: Callable[[int, int], None] | None = None,
         known_different: bool = False) -> SyncReport:
    """Make the board hold `files` ({board path: content}); copy only what differs; verify every hash.

    known_different: the caller has just seen board_matches() say no; skip asking again."""
    manifest = {p: sha256(b) for p, b in files.items()}
    start = session.bytes_sent
    if not known_different and board_matches(session, manifest):
        return SyncReport()
    copy, remove = plan(manifest, board_hashes(session, manifest))
    report = SyncReport(copied=copy, removed=remove)
    if copy:
        chunks = encode_chunks(compress([files[p] for p in copy]))
        total = sum(len(c) for c in chunks)
        session.exec(_OPEN)
        done = 0
        for c in chunks:
            session.exec(c, timeout=30)
            done += len(c)
            if progress:
                progress(done, total)
        session.exec(unpack_code({p: files[p] for p in copy}), timeout=60)
        report.payload_bytes = sum(len(files[p]) for p in copy)
    if remove:
        session.exec(_REMOVE % (remove,))
    verify(session, manifest)
    report.bytes_sent = session.bytes_sent - start
    return report


def verify(session: Session, manifest: dict[str, str]) -> None:
    """Every file of the bundle on the board with its hash, and nothing else under the owned folders."""
    if board_matches(session, manifest):
        return
    on_board = board_hashes(session, manifest)
    wrong = sorted(p for p, h in manifest.items() if on_board.get(p) != h)
    extra = sorted(set(on_board) - set(manifest))
    if wrong or extra:
        raise SyncError(f"{session.port}: after the sync, wrong or missing: {', '.join(wrong) or 'none'}; "
                        f"not in the bundle: {', '.join(extra) or 'none'}")
