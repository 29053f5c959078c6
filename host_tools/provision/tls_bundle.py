"""A board's TLS files for its flash: the fleet's CA, its own client certificate and key.

They come from the broker's TLS folder (`pilotlight broker config --tls-port`,
<broker dir>/tls), DER-encoded as the firmware's mbedTLS loads them; a board
that has no certificate there yet gets one from the fleet's CA. The key is a
secret: it goes to the board's flash and is never shown."""
from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..broker import tls

# Board paths, as config.json names them (mqtt.ca_file, cert_file, key_file).
CA_FILE, CERT_FILE, KEY_FILE = "ca.der", "client.der", "client.key.der"


class TlsBundleError(Exception):
    pass


def mqtt_settings() -> dict:
    return {"tls": True, "ca_file": CA_FILE, "cert_file": CERT_FILE, "key_file": KEY_FILE}


def files(tls_dir: Path, device_id: str, dry_run: bool = False) -> dict[str, bytes]:
    """{board path: bytes} for this device; a dry run issues nothing (a missing cert shows as empty)."""
    tls_dir = Path(tls_dir)
    if not (tls_dir / "ca.pem").exists():
        raise TlsBundleError(f"{tls_dir}: no fleet CA here (run `pilotlight broker config --tls-port N` "
                             f"and give its <dir>/tls)")
    cert, key = tls_dir / f"{device_id}.pem", tls_dir / f"{device_id}.key"
    if not cert.exists() and not dry_run:
        if not (tls_dir / "ca.key").exists():
            raise TlsBundleError(f"{tls_dir}: no certificate for {device_id} and no ca.key to issue one "
                                 f"(run `pilotlight broker config` where the CA key is)")
        cert, key = tls.issue(tls_dir, device_id)
    if not cert.exists():
        return {CA_FILE: _der_cert(tls_dir / "ca.pem"), CERT_FILE: b"", KEY_FILE: b""}
    return {CA_FILE: _der_cert(tls_dir / "ca.pem"), CERT_FILE: _der_cert(cert), KEY_FILE: _der_key(key)}


def _der_cert(pem: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(serialization.Encoding.DER)


def _der_key(pem: Path) -> bytes:
    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
