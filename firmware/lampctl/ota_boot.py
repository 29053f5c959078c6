# A normal boot's update work, loaded only when there is some
# (release.boot_work): confirm this app if it is on probation, report a
# rollback or a failed update, retry a paused update later.
import asyncio

import appslot
import apptrial
import machine
from lampctl import release, store

RETRY_PAUSED_S = 900   # a paused update (link trouble) is tried again after this


async def run(fed, client, events):
    undone = appslot.state().get("rolled_back")
    if undone is not None and not undone.get("reported"):
        events.emit("ota_rolled_back", None, release=undone.get("release"), version=undone.get("version"),
                    reason=undone.get("reason"))
        st = dict(appslot.state())
        st["rolled_back"] = dict(undone, reported=True)
        apptrial.write(st)
        release.status.update(rolled_back=undone.get("reason"), failed_version=undone.get("version"))
    failed = store.read_text(release.RESULT)
    if failed:
        reason, _, version = failed.partition("\n")
        events.emit("ota_failed", None, version=version or None, reason=reason)
        release.status.update(failed=reason, failed_version=version or None)
        release.remove(release.RESULT)
    if appslot.on_probation():
        while True:
            seen = fed.count
            await asyncio.sleep_ms(500)
            if client.connected and fed.count > seen:
                break
        if apptrial.confirm():
            number, version = release.running()
            events.emit("ota_confirmed", None, release=number, version=version)
    job = release.job()
    if job is not None:  # paused after update boots that could not reach the release server
        release.status.update(pending=job["version"], phase="paused")
        events.emit("ota_paused", None, version=job["version"], retry_s=RETRY_PAUSED_S)
        await asyncio.sleep(RETRY_PAUSED_S)
        job["tries"] = 0
        release.save_job(job)
        machine.reset()
