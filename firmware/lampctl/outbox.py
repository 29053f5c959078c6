# Store-and-forward: uplinks made while offline wait on flash, bounded, and
# leave in the order they were made, with the ts they were made with.
#
# Layout: one directory; per kind (event, tele) a series of append-only segment
# files named by the ordinal of their first record ("e0000000042"). A record is
# one line "<ordinal> <crc32> <payload>\n". Appends never rewrite data, a torn
# last line (power cut mid-write) fails its CRC and is ignored, and a segment is
# deleted whole once drained or dropped: no file is ever rewritten in place.
#
# Flash writes: one append per record put while offline (plus one file create
# per `seg_records` records, one delete per drained segment, and a drop-counter
# rewrite, temp + rename, per dropped segment). At a 60 s telemetry interval
# that is about 1,440 appends a day offline, nothing while online; LittleFS
# spreads them over all free blocks.
#
# Full: the oldest telemetry segment goes first; events are dropped only when
# no telemetry is left, and telemetry never displaces an event. Drops are
# counted per kind, kept on flash across reboots.
import binascii
import json
import os

from lampctl import store

EVENT = "event"
TELE = "tele"
KINDS = (EVENT, TELE)
_PREFIX = {EVENT: "e", TELE: "t"}
_DROPS = "drops"




def _crc(payload):
    return binascii.crc32(payload) & 0xFFFFFFFF


def _parse(line):
    """(ordinal, payload) of a stored line, or None if torn or corrupt."""
    if not line.endswith(b"\n"):
        return None
    try:
        a = line.index(b" ")
        b = line.index(b" ", a + 1)
        ordinal = int(line[:a])
        crc = int(line[a + 1:b], 16)
    except ValueError:
        return None
    payload = line[b + 1:-1]
    return (ordinal, payload) if _crc(payload) == crc else None


class Outbox:
    def __init__(self, root="outbox", max_bytes=32768, seg_records=16, max_record=512):
        if max_record + 32 > max_bytes:  # room for at least one line with its header
            raise ValueError("outbox: max_bytes %d cannot hold a %d-byte record" % (max_bytes, max_record))
        self.root = root
        self.max_bytes = max_bytes
        self.seg_records = seg_records
        self.max_record = max_record
        self.dropped = {EVENT: 0, TELE: 0}
        # per kind, oldest first: [file name, valid records, bytes, appendable]
        self._segs = {EVENT: [], TELE: []}  # type: dict
        # per kind: [byte offset, records consumed] in the oldest segment
        self._head = {EVENT: [0, 0], TELE: [0, 0]}
        self._peeked = {EVENT: None, TELE: None}  # type: dict  # (ordinal, payload, next offset)
        self._bytes = 0
        self._next = 1
        if not store.exists(root):
            os.mkdir(root)
        self._load()

    # -- the app's side -------------------------------------------------

    def put(self, kind, payload):
        """Store one uplink payload (bytes or str, no newline). Returns False if
        it had to be dropped (no room without dropping events for telemetry)."""
        if kind not in KINDS:
            raise ValueError("outbox: kind must be %r or %r, got %r" % (EVENT, TELE, kind))
        if isinstance(payload, str):
            payload = payload.encode()
        if b"\n" in payload:
            raise ValueError("outbox: payload must be one line")
        if len(payload) > self.max_record:
            raise ValueError("outbox: %d-byte record exceeds max_record %d" % (len(payload), self.max_record))
        line = ("%d %08x " % (self._next, _crc(payload))).encode() + payload + b"\n"
        while self._bytes + len(line) > self.max_bytes:
            if not self._drop_oldest(kind):
                self.dropped[kind] += 1
                self._save_drops()
                return False
        segs = self._segs[kind]
        if not segs or not segs[-1][3] or segs[-1][1] >= self.seg_records:
            segs.append(["%s%010d" % (_PREFIX[kind], self._next), 0, 0, True])
        seg = segs[-1]
        try:
            with open(self._path(seg[0]), "ab") as f:
                f.write(line)
        except OSError:  # flash full or failing: this segment takes no more
            seg[3] = False
            if seg[1] == 0:
                segs.pop()
                try:
                    os.remove(self._path(seg[0]))
                except OSError:
                    pass
            self.dropped[kind] += 1
            self._save_drops()
            return False
        seg[1] += 1
        seg[2] += len(line)
        self._bytes += len(line)
        self._next += 1
        return True

    def peek(self):
        """The oldest stored record as (kind, payload, ordinal), or None."""
        best = None
        for kind in KINDS:
            p = self._peek_kind(kind)
            if p is not None and (best is None or p[0] < best[2]):
                best = (kind, p[1], p[0])
        return best

    def pop(self, record):
        """Forget `record` (from peek) once the broker has it. A record already
        dropped meanwhile is ignored."""
        kind, _, ordinal = record
        p = self._peek_kind(kind)
        if p is None or p[0] != ordinal:
            return
        head = self._head[kind]
        head[0] = p[2]
        head[1] += 1
        self._peeked[kind] = None
        seg = self._segs[kind][0]
        if head[1] >= seg[1]:
            self._remove_head(kind)

    def pending(self, kind=None):
        kinds = KINDS if kind is None else (kind,)
        return sum(sum(s[1] for s in self._segs[k]) - self._head[k][1] for k in kinds)

    def stats(self):
        """Counts for telemetry: what waits, what was lost (since provisioning)."""
        return {"pending_event": self.pending(EVENT), "pending_tele": self.pending(TELE),
                "dropped_event": self.dropped[EVENT], "dropped_tele": self.dropped[TELE],
                "bytes": self._bytes}

    # -- flash -----------------------------------------------------------

    def _path(self, name):
        return self.root + "/" + name

    def _load(self):
        try:
            with open(self._path(_DROPS)) as f:
                d = json.load(f)
            for kind in KINDS:
                self.dropped[kind] = int(d.get(kind, 0))
        except (OSError, ValueError, AttributeError):
            pass  # none yet, or unreadable: start counting again
        names = sorted(n for n in os.listdir(self.root) if n[:1] in "et" and n[1:].isdigit())
        for name in names:
            kind = EVENT if name[0] == "e" else TELE
            count = good_bytes = 0
            torn = False
            with open(self._path(name), "rb") as f:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    rec = _parse(line)
                    if rec is None:
                        torn = True  # never append after a torn line
                        break
                    count += 1
                    good_bytes += len(line)
                    self._next = max(self._next, rec[0] + 1)
            size = os.stat(self._path(name))[6]
            if count == 0:
                os.remove(self._path(name))
                continue
            self._segs[kind].append([name, count, size, not torn and good_bytes == size])
            self._bytes += size

    def _peek_kind(self, kind):
        # a loop, not recursion: any number of used-up segments costs no stack
        while self._peeked[kind] is None and self._segs[kind]:
            seg = self._segs[kind][0]
            with open(self._path(seg[0]), "rb") as f:
                f.seek(self._head[kind][0])
                rec = _parse(f.readline())
                if rec is not None:
                    self._peeked[kind] = (rec[0], rec[1], f.tell())
            if rec is None:  # the valid records of this segment are used up
                self._remove_head(kind)
        return self._peeked[kind]

    def _remove_head(self, kind):
        seg = self._segs[kind].pop(0)
        os.remove(self._path(seg[0]))
        self._bytes -= seg[2]
        self._head[kind] = [0, 0]
        self._peeked[kind] = None

    def _drop_oldest(self, incoming):
        """Make room: drop a whole telemetry segment, or an event segment for an
        incoming event when no telemetry is left. False if nothing may go."""
        if self._segs[TELE]:
            victim = TELE
        elif incoming == EVENT and self._segs[EVENT]:
            victim = EVENT
        else:
            return False
        self.dropped[victim] += self._segs[victim][0][1] - self._head[victim][1]
        self._remove_head(victim)
        self._save_drops()
        return True

    def _save_drops(self):
        tmp = self._path(_DROPS + ".tmp")
        try:
            with open(tmp, "w") as f:
                json.dump(self.dropped, f)
            os.rename(tmp, self._path(_DROPS))
        except OSError:
            pass  # flash full: the counts live on in RAM until the next save
