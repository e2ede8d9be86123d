"""Throwaway X.509 material made with the openssl CLI: a CA and a server certificate for
127.0.0.1 and localhost signed by it. Used for the private Dovecot (popbridge verifies it) and
for popbridge's own IMAP listeners (the tests' imaplib clients verify them)."""

import os
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class CertSet:
    ca_cert: str  # PEM, what clients trust
    ca_key: str
    cert: str  # server certificate PEM (leaf only)
    key: str  # server private key PEM
    chain: str  # leaf followed by the CA, for servers that want a full chain


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_certs(directory, name="server", days=7):
    """Creates `directory`/{ca.pem,ca.key,<name>.pem,<name>.key,<name>-chain.pem} and returns their
    paths. EC P-256 keys keep generation fast. The server certificate carries SAN
    DNS:localhost and IP:127.0.0.1 (RFC 6125: clients match SANs, not the CN) plus the key
    identifiers strict verifiers require."""
    os.makedirs(directory, exist_ok=True)
    ca_cert = os.path.join(directory, "ca.pem")
    ca_key = os.path.join(directory, "ca.key")
    if not os.path.exists(ca_cert):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", ca_key, "-out", ca_cert, "-days", str(days),
                 "-subj", "/O=popbridge test/CN=popbridge test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    csr = os.path.join(directory, f"{name}.csr")
    ext = os.path.join(directory, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/O=popbridge test/CN=localhost", cwd=directory)
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", str(days), "-extfile", ext, cwd=directory)
    chain = os.path.join(directory, f"{name}-chain.pem")
    with open(chain, "wb") as out:
        for part in (cert, ca_cert):
            with open(part, "rb") as f:
                out.write(f.read())
    for path in (key, ca_key):
        os.chmod(path, 0o600)
    return CertSet(ca_cert=ca_cert, ca_key=ca_key, cert=cert, key=key, chain=chain)
