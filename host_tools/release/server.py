"""The release server: plain HTTP GET of release folders, with Range (a board
resumes a file where a reboot or a lost link left it).

Why HTTP and not chunks over MQTT (docs/ota.md has the figures): a release is
static files, the same for every board; a file server streams them with the
kernel doing the copying and holds no per-board state, while chunks through
the broker would cost it one publish per kilobyte per board. Integrity does
not come from the transport: every byte is checked against the signed
manifest on the board, so the server needs no secrets and may be anywhere.

asyncio streams, one task per connection, HTTP/1.0 (one request per
connection, as the board asks), only GET and HEAD, only files under the root."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

RANGE = re.compile(r"bytes=(\d+)-$")
CHUNK = 64 * 1024


@dataclass
class Stats:
    requests: int = 0
    bytes_sent: int = 0
    connections: int = 0
    peak_connections: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class ReleaseServer:
    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, backlog: int = 4096,
                 rate: int | None = None, log=None):
        """rate: bytes per second per connection, to play a slow link (tests, bench);
        log(line): one line per request served (peer, request, status, bytes)."""
        self.root = Path(root).resolve()
        self.host, self.port, self.backlog, self.rate, self.log = host, port, backlog, rate, log
        self.stats = Stats()
        self.server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "ReleaseServer":
        self.server = await asyncio.start_server(self._client, self.host, self.port, backlog=self.backlog)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    def _file(self, target: str) -> Path | None:
        path = (self.root / target.split("?", 1)[0].lstrip("/")).resolve()
        if self.root not in path.parents or not path.is_file():
            return None
        return path

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        st = self.stats
        st.connections += 1
        st.peak_connections = max(st.peak_connections, st.connections)
        try:
            await asyncio.wait_for(self._serve(reader, writer), 60)
        except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass   # a client that went away or spoke nonsense: its connection ends
        finally:
            st.connections -= 1
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readline()).decode("latin-1").split()
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self.stats.requests += 1
        if len(request) != 3 or request[0] not in ("GET", "HEAD"):
            return await self._status(writer, 400, "Bad Request")
        path = self._file(request[1])
        if path is None:
            return await self._status(writer, 404, "Not Found")
        size = path.stat().st_size
        start = 0
        m = RANGE.match(headers.get("range", ""))
        if m:
            start = int(m.group(1))
            if start > size:
                return await self._status(writer, 416, "Range Not Satisfiable")
        code, reason = (206, "Partial Content") if m else (200, "OK")
        if self.log:
            self.log(f"{request[0]} {request[1]} {code} from={start} bytes={size - start}")
        head = f"HTTP/1.0 {code} {reason}\r\nContent-Length: {size - start}\r\nContent-Type: application/octet-stream\r\n"
        if m:
            head += f"Content-Range: bytes {start}-{size - 1}/{size}\r\n"
        writer.write((head + "Connection: close\r\n\r\n").encode())
        self.stats.by_status[code] = self.stats.by_status.get(code, 0) + 1
        if request[0] == "GET":
            step = min(CHUNK, max(1, self.rate // 8)) if self.rate else CHUNK   # a slow link: 8 writes a second
            with open(path, "rb") as f:
                f.seek(start)
                while chunk := f.read(step):
                    writer.write(chunk)
                    self.stats.bytes_sent += len(chunk)
                    await writer.drain()
                    if self.rate:
                        await asyncio.sleep(len(chunk) / self.rate)
        await writer.drain()

    async def _status(self, writer: asyncio.StreamWriter, code: int, reason: str) -> None:
        self.stats.by_status[code] = self.stats.by_status.get(code, 0) + 1
        writer.write(f"HTTP/1.0 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()


def serve_forever(root: Path, host: str, port: int, ready=None, rate: int | None = None, log=None) -> None:
    async def main():
        server = await ReleaseServer(root, host, port, rate=rate, log=log).start()
        if ready:
            ready(server)
        await asyncio.Event().wait()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def raise_open_files_limit() -> None:
    """A district's boards at once need more than the default 1,024 descriptors."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

