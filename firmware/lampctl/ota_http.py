# A small HTTP/1.0 GET for release downloads: one request per connection, a
# Range header to resume a file where a reboot or a lost link left it, the
# body streamed through a caller's buffer (bounded RAM, whatever the size).
import asyncio

TIMEOUT_MS = 15000


class HTTPError(OSError):
    """The server answered, but not with the file (a status other than 200/206)."""


def split_url(url):
    """(host, port, path, tls) of an http:// or https:// URL."""
    if url.startswith("http://"):
        rest, port, tls = url[7:], 80, False
    elif url.startswith("https://"):
        rest, port, tls = url[8:], 443, True
    else:
        raise ValueError("not an http(s) URL")
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    host, _, p = hostport.partition(":")
    if p:
        port = int(p)
    if not host or not 0 < port < 65536:
        raise ValueError("no host or a bad port")
    return host, port, path, tls


async def _line(reader):
    line = await asyncio.wait_for_ms(reader.readline(), TIMEOUT_MS)
    if not line:
        raise OSError("connection closed by the release server")
    return line


async def get(url, buf, sink, offset=0, limit=None, ssl=None):
    """GET `url` from byte `offset` on; sink(memoryview) gets the body piece by
    piece through `buf`. Returns the bytes received. `limit`: refuse a body
    longer than this (a manifest has a bounded size)."""
    host, port, path, tls = split_url(url)
    from lampctl.resolver import address  # a name is looked up off the loop
    ip = await address(host, port)
    reader, writer = await asyncio.wait_for_ms(
        asyncio.open_connection(ip, port, ssl=ssl if tls else None, server_hostname=host if tls else None),
        TIMEOUT_MS)  # type: asyncio.StreamReader, asyncio.StreamWriter
    try:
        req = "GET %s HTTP/1.0\r\nHost: %s\r\n" % (path, host)
        if offset:
            req += "Range: bytes=%d-\r\n" % offset
        writer.write((req + "\r\n").encode())
        await writer.drain()
        status = (await _line(reader)).split()
        code = int(status[1]) if len(status) > 1 else 0
        if code not in (200, 206) or (offset and code != 206):
            raise HTTPError("%s: HTTP %d" % (path, code))
        length = None
        while True:
            line = await _line(reader)
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is not None and limit is not None and length > limit:
            raise ValueError("%s: %d bytes, more than the %d allowed" % (path, length, limit))
        mv = memoryview(buf)
        got = 0
        while length is None or got < length:
            n = await asyncio.wait_for_ms(reader.readinto(mv), TIMEOUT_MS)  # type: int
            if not n:
                break
            got += n
            if limit is not None and got > limit:
                raise ValueError("%s: more than the %d bytes allowed" % (path, limit))
            sink(mv[:n])
        if length is not None and got < length:
            raise OSError("%s: connection lost after %d of %d bytes" % (path, got, length))
        return got
    finally:
        writer.close()
