"""Certificates made for one test run (the `cryptography` package): a CA, a server certificate for
127.0.0.1 and a client certificate it signed, and a client certificate from another CA, as PEM files."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path

    @property
    def requests(self) -> tuple[str, str]:
        """What `requests`' ``cert=`` takes."""
        return str(self.cert), str(self.key)


@dataclass(frozen=True)
class Certificates:
    ca: Path  # signs the server's and the client's certificates
    server: Pair
    client: Pair
    stranger: Pair  # a client certificate that another CA signed


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    """A certificate for ``subject``; self-signed CA when ``issuer`` is None, else a leaf for ``usage``."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pair.key.chmod(0o600)
    return pair


def make_certificates(directory: Path) -> Certificates:
    leaves = {}
    cas = []
    for ca_name in ("dcm-otel test CA", "another CA"):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _issue(ca_name, ca_key, None, None)
        cas.append(_write(directory, ca_name.replace(" ", "-"), ca_cert, ca_key))
        issuer = (ca_cert.subject, ca_key)
        usages = (
            {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
            if not leaves
            else {"stranger": ExtendedKeyUsageOID.CLIENT_AUTH}
        )
        for leaf, usage in usages.items():
            key = ec.generate_private_key(ec.SECP256R1())
            leaves[leaf] = _write(directory, leaf, _issue(leaf, key, issuer, usage), key)
    return Certificates(cas[0].cert, leaves["server"], leaves["client"], leaves["stranger"])
