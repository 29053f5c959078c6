# Drives lampctl.mqtt under the real MicroPython interpreter for the host tests.
# JSON options come in $LAMP_CLIENT (the unix port dies on an argv word longer
# than 255 bytes); every observation is printed as one JSON line.
import asyncio
import gc
import json
import os
import time

from lampctl import commands, topics
from lampctl.mqtt import MQTTClient, tls_context

opt = json.loads(os.getenv("LAMP_CLIENT"))
root = opt.get("root", "pl/test/lamp1")


def say(ev, **kw):
    kw["ev"] = ev
    kw["ms"] = time.ticks_ms()
    print(json.dumps(kw))


def on_connect(session_present):
    say("connected", session=session_present, reconnects=client.reconnects)
    asyncio.create_task(client.publish(root + "/status", b"online", qos=1, retain=True))


tally = {"ok": 0, "bad": 0, "dup": 0}
recent = commands.RecentIds()


def on_message(topic, payload, retained):
    if not opt.get("validate"):
        say("msg", topic=topic.decode(), payload=payload.decode(), retained=retained)
        return
    # As the app will: validate, skip a repeated id, count; report every 100.
    try:
        cmd = commands.parse(topics.command_name(topic), payload)
        if cmd["id"] in recent:
            tally["dup"] += 1
        else:
            recent.add(cmd["id"])
            tally["ok"] += 1
    except commands.CommandError:
        tally["bad"] += 1
    if (tally["ok"] + tally["bad"] + tally["dup"]) % 100 == 0:
        gc.collect()
        say("tally", free=gc.mem_free(), **tally)


def on_oversize(topic, size):
    say("oversize", topic=topic.decode(), size=size)


tls = opt.get("tls")
client = MQTTClient(
    opt.get("client_id", "lamp1"), "127.0.0.1", opt["port"],
    user=opt.get("user"), password=opt.get("password"),
    keepalive_s=opt.get("keepalive", 2),
    ssl=tls_context(tls["ca"], tls.get("cert"), tls.get("key")) if tls else None,
    server_hostname=tls.get("hostname") if tls else None,
    will_topic=root + "/status", will_message=b"offline",
    max_msg=opt.get("max_msg", 512),
    backoff_min_ms=opt.get("backoff_min_ms", 200), backoff_max_ms=opt.get("backoff_max_ms", 1000),
    connect_timeout_ms=2000,
    on_message=on_message, on_connect=on_connect, on_oversize=on_oversize)
for t in opt.get("sub", ()):
    client.subscribe(t, 1)


async def publisher(count, every_ms, window):
    # `window` publishes in flight at once exercise the client's QoS 1 queue.
    left = [count]

    async def one(seq):
        await client.publish(root + "/tele", json.dumps({"seq": seq}), qos=1)
        say("acked", seq=seq)
        left[0] -= 1

    for seq in range(1, count + 1):
        while (seq - 1) - (count - left[0]) >= window:  # started minus acked
            await asyncio.sleep_ms(5)
        asyncio.create_task(one(seq))
        await asyncio.sleep_ms(every_ms)
    while left[0]:
        await asyncio.sleep_ms(5)
    say("published_all")


async def errors():
    last = None
    while True:
        if client.last_error != last:
            last = client.last_error
            if last:
                say("error", error=last)
        await asyncio.sleep_ms(50)


async def main():
    runner = asyncio.create_task(client.run())
    asyncio.create_task(errors())
    if opt.get("count"):
        asyncio.create_task(publisher(opt["count"], opt.get("every_ms", 20), opt.get("window", 1)))
    await asyncio.sleep_ms(opt.get("run_ms", 60000))
    await client.disconnect()
    await runner
    say("exit")


asyncio.run(main())
