"""MQTT over TLS (issue 4 acceptance): a board given the fleet's CA (and its
own client certificate) connects to a Mosquitto TLS listener; a board given
another CA refuses the broker and stays offline, its lamp still lit."""
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hil_tests.support import traffic
from hil_tests.support.firmware import copy_bundle, firmware_bundle
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import lamp_config
from host_tools.broker import tls
from host_tools.broker.mosquitto import Mosquitto

pytestmark = pytest.mark.needs_reset


def _der_cert(pem_path, out):
    out.write_bytes(x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(serialization.Encoding.DER))


def _der_key(pem_path, out):
    key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
    out.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))


def _deploy(board, tmp, cfg, files):
    """The firmware, its config and the board's DER files, copied with mpremote as over USB."""
    bundle = firmware_bundle(tmp, cfg)
    for name, write in files.items():
        write(bundle / name)
    copy_bundle(board.port, bundle)


@pytest.fixture
def pki(tmp_path):
    fleet_ca, other_ca = tmp_path / "fleet-ca", tmp_path / "other-ca"
    for d in (fleet_ca, other_ca):
        d.mkdir()
        tls.ensure_ca(d)
    tls.issue(fleet_ca, tls.SERVER, ["127.0.0.1", "localhost"])
    return fleet_ca, other_ca


def test_tls_with_the_fleet_ca_connects_and_a_wrong_ca_is_refused(rig, tmp_path, pki):
    fleet_ca, other_ca = pki
    good, wrong = rig.start("tls", count=2)
    for b in (good, wrong):
        tls.issue(fleet_ca, b.unique_id)  # each board's own client certificate
    extra = [f"cafile {fleet_ca / 'ca.pem'}", f"certfile {fleet_ca / (tls.SERVER + '.pem')}",
             f"keyfile {fleet_ca / (tls.SERVER + '.key')}", "require_certificate true",
             "user root"]  # run as root: mosquitto must still read pytest's root-only tmp dir
    with Mosquitto(tmp_path / "broker", extra=extra) as broker:
        cert, key = tls.issue(fleet_ca, "hil-recorder")  # the failure report's traffic, over TLS too
        traffic.record(broker.port, tls={"ca_certs": str(fleet_ca / "ca.pem"), "certfile": str(cert),
                                         "keyfile": str(key)})
        watchers = []
        try:
            for b, ca in ((good, fleet_ca), (wrong, other_ca)):
                cfg = lamp_config(b.unique_id, broker.port, default_level=40,
                                  mqtt={"tls": True, "ca_file": "ca.der", "cert_file": "client.der",
                                        "key_file": "client.key.der"})
                _deploy(b, tmp_path / b.name, cfg, {
                    "ca.der": lambda p, ca=ca: _der_cert(ca / "ca.pem", p),
                    "client.der": lambda p, b=b: _der_cert(fleet_ca / f"{b.unique_id}.pem", p),
                    "client.key.der": lambda p, b=b: _der_key(fleet_ca / f"{b.unique_id}.key", p),
                })
                # the fleet side also speaks TLS, with the fleet's CA and a certificate of its own
                cert, key = tls.issue(fleet_ca, f"fleet-{b.name}")
                watchers.append(Fleet(broker.port, f"pl/test/{b.unique_id}", client_id=f"fleet-{b.name}",
                                      tls={"ca_certs": str(fleet_ca / "ca.pem"), "certfile": str(cert),
                                           "keyfile": str(key)}))
                b.control().reset()
            ok, refused = watchers
            ok.wait_status("online", timeout=20)
            assert ok.wait_json("state", lambda d: d["level"] == 40)["mode"] == "schedule"
            with pytest.raises(TimeoutError):
                refused.wait_status("online", timeout=8)
            c = wrong.control()
            assert c.status()["boots"] == good.control().status()["boots"], "a refused broker rebooted the board"
            assert c.status()["lamp_level"] > 0  # offline, the lamp runs on
        finally:
            for w in watchers:
                w.close()

