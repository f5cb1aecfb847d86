"""Build the SecurityCredential of Transaction Status, Reversal and Account Balance requests."""

import base64

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import DarajaConfigError


def security_credential(password, certificate_pem):
    """Encrypt the initiator password for Daraja and return it base64-encoded.

    Daraja's Transaction Status page defines the SecurityCredential as the initiator
    password encrypted with RSA PKCS#1 v1.5 under the public key of M-Pesa's X.509
    certificate (one for the sandbox, another for production), then base64-encoded.
    PKCS#1 v1.5 padding is random, so two calls return different values.

    :param password: the API initiator's password, as text.
    :param certificate_pem: the certificate in PEM form, as text or bytes.
    :raise DarajaConfigError: when the password is empty or the certificate is not an
        RSA certificate in PEM form.
    """
    if not password:
        raise DarajaConfigError(
            "The initiator password is missing. Set the password of the Daraja API initiator."
        )
    if not certificate_pem:
        raise DarajaConfigError(
            "The M-Pesa certificate is missing. Paste the PEM certificate "
            "(-----BEGIN CERTIFICATE-----) downloaded from the Daraja portal."
        )
    if isinstance(certificate_pem, str):
        certificate_pem = certificate_pem.encode("ascii", "replace")

    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.strip(), default_backend())
    except ValueError as error:
        raise DarajaConfigError(
            "The M-Pesa certificate cannot be read (%s). Paste the whole PEM certificate, "
            "from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, as downloaded "
            "from the Daraja portal for this environment." % error
        )
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise DarajaConfigError(
            "The M-Pesa certificate does not contain an RSA public key. Use the certificate "
            "downloaded from the Daraja portal for this environment."
        )

    try:
        encrypted = public_key.encrypt(str(password).encode("utf-8"), padding.PKCS1v15())
    except ValueError as error:
        raise DarajaConfigError(
            "The initiator password cannot be encrypted with this certificate (%s). "
            "Check the password and the certificate." % error
        )
    return base64.b64encode(encrypted).decode("ascii")
