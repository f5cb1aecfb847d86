"""Create the sandbox's RSA key pair and certificate, and decrypt SecurityCredential values."""
import base64
import binascii
import datetime
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

_cache_lock = threading.Lock()
_process_key_pair = []


class KeyPair(object):
    """The private key that decrypts SecurityCredential and the self-signed certificate that carries its public key."""

    def __init__(self, private_key_pem, certificate_pem):
        self.private_key_pem = private_key_pem
        self.certificate_pem = certificate_pem
        self._private_key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)

    @classmethod
    def generate(cls):
        """Generate a 2048-bit RSA key and a self-signed X.509 certificate valid for ten years."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Offline Daraja Sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, "daraja-sandbox.invalid"),
        ])
        now = datetime.datetime.utcnow()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return cls(key_pem.decode("ascii"), certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"))

    @classmethod
    def for_process(cls):
        """Return one key pair shared by every sandbox of this process that has no data file.

        Generating an RSA key takes a noticeable fraction of a second, and test suites start
        a fresh sandbox for each test.
        """
        with _cache_lock:
            if not _process_key_pair:
                _process_key_pair.append(cls.generate())
            return _process_key_pair[0]

    def decrypt_credential(self, credential):
        """Decrypt a base64 SecurityCredential (RSA PKCS#1 v1.5) and return the password, or None if it is unreadable."""
        try:
            ciphertext = base64.b64decode(credential.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError, AttributeError):
            return None
        try:
            return self._private_key.decrypt(ciphertext, padding.PKCS1v15()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None


def is_base64(value):
    """Return True when `value` is a non-empty base64 string."""
    if not isinstance(value, str) or not value:
        return False
    try:
        base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True
