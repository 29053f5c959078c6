# Calls that block their caller for seconds when a server is slow or gone:
# lwIP's name lookup (socket.getaddrinfo retries an unreachable DNS server for
# many seconds) and ntptime. On the app's single loop such a call would stop
# the control task, and the watchdog would reset the board. They run here in
# a worker thread instead (lwIP releases the GIL while it waits), one at a
# time, while the loop waits with a bound of its own.
import _thread
import asyncio

POLL_MS = 50
ETIMEDOUT, EBUSY = 110, 16


class _Job:
    def __init__(self):
        self.done = False
        self.result = None  # type: object
        self.error = None  # type: Exception | None


_job = []  # type: list  # the one job in flight


def _work(job, fn, args):
    try:
        job.result = fn(*args)
    except Exception as e:  # handed to the waiting task
        job.error = e
    job.done = True


def busy():
    return bool(_job) and not _job[0].done


def start(fn, args=()):
    """fn(*args) in the worker thread, nobody waiting; None while it is busy."""
    if busy():
        return None
    job = _Job()
    _job[:] = [job]
    _thread.start_new_thread(_work, (job, fn, args))
    return job


async def call(fn, args=(), timeout_ms=5000):
    """fn(*args) in the worker thread; its result, or its exception. Waits for
    the worker to be free and for the call, within timeout_ms in all: OSError
    EBUSY or ETIMEDOUT beyond (a late call finishes on its own, unheard)."""
    waited = 0
    job = start(fn, args)
    while job is None:
        if waited >= timeout_ms:
            raise OSError(EBUSY)
        await asyncio.sleep_ms(POLL_MS)
        waited += POLL_MS
        job = start(fn, args)
    while not job.done:
        if waited >= timeout_ms:
            raise OSError(ETIMEDOUT)
        await asyncio.sleep_ms(POLL_MS)
        waited += POLL_MS
    if job.error is not None:
        raise job.error
    return job.result
