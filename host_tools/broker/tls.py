"""A private CA for the fleet: the broker's server certificate and one client
certificate per device (CN = device id, which Mosquitto takes as the username
with `use_identity_as_username`, so the ACL applies unchanged). Keys are 0600."""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .files import write_private

CA_YEARS, CERT_YEARS = 20, 10
SERVER = "_server"   # no account can have this name, so no device cert can overwrite it


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pilotlight fleet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _builder(subject: x509.Name, issuer: x509.Name, public_key, years: int) -> x509.CertificateBuilder:
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365 * years)))


def ensure_ca(directory: Path, site: str = "fleet") -> tuple[Path, Path]:
    """ca.pem and ca.key in `directory`, made once (an existing CA is kept: devices trust it)."""
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"Pilotlight CA {site}")
    cert = (_builder(name, name, key.public_key(), CA_YEARS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    write_private(key_path, _key_pem(key))
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _load_ca(directory: Path):
    cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    return cert, key


def issue(directory: Path, cn: str, server_names: list[str] | None = None) -> tuple[Path, Path]:
    """<cn>.pem and <cn>.key signed by the CA in `directory`: a server cert when server_names are given."""
    ca_cert, ca_key = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(_name(cn), ca_cert.subject, key.public_key(), CERT_YEARS)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server_names:
        alt = []
        for n in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    key_path = write_private(directory / f"{cn}.key", _key_pem(key))
    cert_path = write_private(directory / f"{cn}.pem", cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def ensure_certificates(directory: Path, hosts: list[str], accounts: list[str]) -> None:
    """CA, the broker's server cert for `hosts`, a client cert for every account that has none,
    and a CRL that revokes the certificates of accounts that are gone (retired boards)."""
    ensure_ca(directory)
    issue(directory, SERVER, hosts)
    for name in accounts:
        if not (directory / f"{name}.pem").exists():
            issue(directory, name)
    _revoke_all_but(directory, set(accounts))


def _revoke_all_but(directory: Path, keep: set[str]) -> None:
    """Move certificates of unknown accounts to revoked/ and list every revoked serial in crl.pem."""
    revoked_dir = directory / "revoked"
    for cert in directory.glob("*.pem"):
        if cert.stem not in keep and cert.stem not in ("ca", SERVER, "crl"):
            revoked_dir.mkdir(mode=0o700, exist_ok=True)
            serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
            cert.replace(revoked_dir / f"{cert.stem}-{serial:x}.pem")   # a reinstated board may be revoked again
            (directory / f"{cert.stem}.key").unlink(missing_ok=True)
    ca_cert, ca_key = _load_ca(directory)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - datetime.timedelta(minutes=5))
               .next_update(now + datetime.timedelta(days=365 * CERT_YEARS)))
    for cert in sorted(revoked_dir.glob("*.pem")) if revoked_dir.exists() else []:
        serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    crl = builder.sign(ca_key, hashes.SHA256())
    write_private(directory / "crl.pem", crl.public_bytes(serialization.Encoding.PEM))
