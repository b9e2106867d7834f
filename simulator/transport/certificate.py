"""The projector PC's own TLS certificate for remote consoles, made on first use.

Nobody has to obtain or install a certificate: the projector PC makes a self-signed one
(an ECDSA P-256 key) in its data folder, shows its SHA-256 fingerprint beside the pairing
code, and a console pins that fingerprint. Trust comes from the instructor reading the
fingerprint off the operator's screen, not from a certificate authority, so the name in
the certificate does not matter. The key file is readable by its owner only.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from simulator.transport.pairing import certificate_fingerprint

CERTIFICATE_FILE = "projector-cert.pem"
KEY_FILE = "projector-key.pem"
VALID_FOR = timedelta(days=5 * 365)
# Made again this long before it expires, so a class never meets an expired one.
RENEW_BEFORE = timedelta(days=30)


def projector_certificate(folder: Path, *, now: datetime | None = None) -> tuple[Path, Path]:
    """The certificate and key files in ``folder``, made (or renewed) when needed."""
    now = now or datetime.now(UTC)
    certificate, key = folder / CERTIFICATE_FILE, folder / KEY_FILE
    if certificate.is_file() and key.is_file():
        try:
            loaded = x509.load_pem_x509_certificate(certificate.read_bytes())
        except ValueError:
            loaded = None  # damaged: make a new one
        if loaded is not None and loaded.not_valid_after_utc - RENEW_BEFORE > now:
            return certificate, key
    folder.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"Branchpoint projector {socket.gethostname()}"[:64])])
    made = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
            .sign(private, hashes.SHA256()))
    _write_private(key, private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    certificate.write_bytes(made.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def fingerprint_of(certificate: Path) -> str:
    """The SHA-256 fingerprint a console pins, of the PEM certificate at ``certificate``."""
    loaded = x509.load_pem_x509_certificate(certificate.read_bytes())
    return certificate_fingerprint(loaded.public_bytes(serialization.Encoding.DER))


def _write_private(path: Path, data: bytes) -> None:
    # Owner-only from the first byte; on Windows the mode is ignored and the file inherits
    # the user profile's permissions, which are the user's own.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
