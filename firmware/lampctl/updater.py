# The update boot: the lamp's brain and sensing run as in any boot (the lamp
# keeps its schedule, the watchdog is fed by the control loop), the network
# link comes up, and the pending update runs (lampctl.ota) instead of the MQTT
# side, whose RAM the update takes. It ends in a reset: into the new app on
# probation, or back to the old one with the reason kept for it to report.
import asyncio

import machine


def run(build, shutdown):
    from lampctl import ota  # first, into a young heap: its modules need runs of contiguous RAM
    ota.before_reset = shutdown
    job = ota.begin()
    cfg, ctl, sensing, events = build()
    asyncio.run(_main(cfg, ctl, sensing, events, ota, job))


async def _main(cfg, ctl, sensing, events, ota, job):
    from lampctl.link import Link
    wdt = machine.WDT(timeout=cfg["wdt_ms"])
    asyncio.create_task(sensing.run())
    link = Link(cfg, ctl, events)
    asyncio.create_task(link.run())
    asyncio.create_task(ota.run(job, link, events))
    await ctl.run(wdt)
