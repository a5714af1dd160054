"""hsmkms: a Yandex Cloud KMS-compatible key management service backed by a PKCS#11 HSM."""

__version__ = "0.1.0"
