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

    def take(self):
        items, self.queue = self.queue, []
        return items
