# Uplink events (motion, faults, boot, ...) waiting for whoever reports them:
# a bounded queue, oldest dropped first, with the drops counted. Until the
# board is online they are also printed on the console for a technician.
import json

MAX_QUEUED = 32


class Events:
    def __init__(self):
        self.queue = []
        self.dropped = 0

    def emit(self, kind, utc=None, **fields):
        fields["kind"] = kind
        fields["ts"] = utc
        if len(self.queue) >= MAX_QUEUED:
            self.queue.pop(0)
            self.dropped += 1
        self.queue.append(fields)
        print("pl event", json.dumps(fields))

    def first(self):
        """The oldest event, left queued until drop_first(): one that finds no room to go stays."""
        return self.queue[0] if self.queue else None

    def drop_first(self):
        self.queue.pop(0)
