"""What one TLS session costs the firmware's interpreter: GC heap (the socket
objects, as on the chip) and C heap (mbedTLS: the unix port's standard build
allocates it with the C library, as the esp32 port does from the ESP-IDF heap)."""
from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host_tools.vboard.board import micropython_binary

PROBE = r'''
import gc, socket, ssl, json, os
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cafile=os.getenv("TLS_CA"))
def session():
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", int(os.getenv("TLS_PORT")))[0][-1])
    t = ctx.wrap_socket(s, server_hostname="localhost")
    t.write(b"ping")
    t.read(4)
    return t
# A first session pages mbedTLS's code in; the second, opened beside it, then
# shows what one session holds: GC heap, and C heap as resident memory.
first = session()
gc.collect(); g0 = gc.mem_alloc(); c0 = rss()
second = session()
gc.collect(); g1 = gc.mem_alloc(); c1 = rss()
first.close()
second.close()
print(json.dumps({"gc": g1 - g0, "c": c1 - c0}))
'''


def _self_signed(tmp: Path) -> tuple[Path, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path, cert_path, der_path = tmp / "key.pem", tmp / "cert.pem", tmp / "ca.der"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))   # what the board loads
    return key_path, cert_path, der_path


def tls_session_cost() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        key, cert, der = _self_signed(Path(tmp))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]

        def echo():
            for _ in range(2):
                conn, _ = server.accept()
                t = ctx.wrap_socket(conn, server_side=True)
                t.sendall(t.recv(4))
                held.append(t)   # open until the board closes both

        held: list = []
        threading.Thread(target=echo, daemon=True).start()
        probe = Path(tmp) / "probe.py"
        probe.write_text(PROBE)
        run = subprocess.run([micropython_binary(), "-X", "heapsize=96k", str(probe)], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ, TLS_PORT=str(port), TLS_CA=str(der)))
        server.close()
    if run.returncode:
        raise RuntimeError(f"TLS probe failed: {run.stdout}{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])
