# Drives lampctl.mqtt under the real MicroPython interpreter for the host tests.
# One JSON argument configures it; every observation is printed as one JSON line.
import asyncio
import json
import sys
import time

from lampctl.mqtt import MQTTClient, tls_context

opt = json.loads(sys.argv[1])
root = opt.get("root", "pl/test/lamp1")


def say(ev, **kw):
    kw["ev"] = ev
    kw["ms"] = time.ticks_ms()
    print(json.dumps(kw))


def on_connect(session_present):
    say("connected", session=session_present, reconnects=client.reconnects)
    asyncio.create_task(client.publish(root + "/status", b"online", qos=1, retain=True))


def on_message(topic, payload, retained):
    say("msg", topic=topic.decode(), payload=payload.decode(), retained=retained)


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


async def publisher(count, every_ms):
    for seq in range(1, count + 1):
        await client.publish(root + "/tele", json.dumps({"seq": seq}), qos=1)
        say("acked", seq=seq)
        await asyncio.sleep_ms(every_ms)
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
        asyncio.create_task(publisher(opt["count"], opt.get("every_ms", 20)))
    await asyncio.sleep_ms(opt.get("run_ms", 60000))
    await client.disconnect()
    await runner
    say("exit")


asyncio.run(main())
