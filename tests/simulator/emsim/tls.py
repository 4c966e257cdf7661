"""Self-signed CA and loopback server certificate for the simulator (generated once per --cert-dir)."""

import datetime
import fcntl
import ipaddress
import os
import ssl

CA_FILE = 'ca.pem'
CERT_FILE = 'server.pem'
KEY_FILE = 'server.key'


def _write(path, data, mode=0o644):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'wb') as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_certificates(cert_dir):
    """Create ca.pem, server.pem and server.key in cert_dir unless all exist; returns their paths."""
    os.makedirs(cert_dir, exist_ok=True)
    paths = tuple(os.path.join(cert_dir, name) for name in (CA_FILE, CERT_FILE, KEY_FILE))
    with open(os.path.join(cert_dir, '.lock'), 'w', encoding='ascii') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(os.path.exists(path) for path in paths):
            _generate(*paths)
    return paths


def _generate(ca_path, cert_path, key_path):
    # Imported here so that plain-HTTP use needs nothing outside the standard library.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    later = now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'EM Simulator Test CA'),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'veeam.enterprise_manager tests')])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(later)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(later)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                        x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    _write(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    _write(cert_path, cert.public_bytes(pem))
    _write(ca_path, ca_cert.public_bytes(pem))


def server_context(cert_dir):
    _ca, cert, key = ensure_certificates(cert_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
