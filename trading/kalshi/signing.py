"""Kalshi request signing (PROTOCOL.md 2): RSA-PSS, SHA-256, salt = digest length,
over ``timestamp_ms + METHOD + path`` with the query string cut off.

The simulator verifies with the same rules, strictly, so a client that drifts
from Kalshi's docs fails here rather than against the real exchange.
"""

import base64
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from trading.private_files import create_private_file, make_private_dir

ACCESS_KEY = "KALSHI-ACCESS-KEY"
ACCESS_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
ACCESS_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


class SigningKeyError(Exception):
    """The key id or private key is missing or unreadable; the message names the setting."""


def _message(timestamp_ms: str, method: str, path: str) -> bytes:
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


@dataclass(frozen=True)
class Signer:
    """Signs requests for one API key. ``repr`` never shows the key."""

    key_id: str
    private_key: rsa.RSAPrivateKey

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    @classmethod
    def from_files(cls, key_id: str, private_key_path: str) -> "Signer":
        if not key_id:
            raise SigningKeyError("KALSHI_API_KEY_ID is not set: set it to your Kalshi API key id.")
        if not private_key_path:
            raise SigningKeyError("KALSHI_PRIVATE_KEY_PATH is not set: set it to the path of your RSA private key PEM.")
        try:
            pem = Path(private_key_path).read_bytes()
        except OSError as exc:
            raise SigningKeyError(
                f"KALSHI_PRIVATE_KEY_PATH={private_key_path} cannot be read: {exc.strerror}"
            ) from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise SigningKeyError(
                f"KALSHI_PRIVATE_KEY_PATH={private_key_path} does not hold an unencrypted RSA private key PEM."
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SigningKeyError(f"KALSHI_PRIVATE_KEY_PATH={private_key_path} is not an RSA key.")
        return cls(key_id=key_id, private_key=key)

    def headers(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three KALSHI-ACCESS-* headers for one request (a fresh timestamp each call)."""
        ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
        signature = self.private_key.sign(_message(ts, method, path), _PSS, hashes.SHA256())
        return {ACCESS_KEY: self.key_id, ACCESS_TIMESTAMP: ts, ACCESS_SIGNATURE: base64.b64encode(signature).decode()}


def verify(public_key: rsa.RSAPublicKey, timestamp_ms: str, method: str, path: str, signature_b64: str) -> bool:
    """True when the signature is Kalshi-valid for this request (salt length checked strictly)."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, _message(timestamp_ms, method, path), _PSS, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_key_pair(directory: Path, key_id: str) -> tuple[Path, Path]:
    """Write a new RSA key pair (private 0600) and return (private, public) paths."""
    make_private_dir(directory)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path, public_path = directory / f"{key_id}.key", directory / f"{key_id}.pub"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if not create_private_file(private_path, pem):
        raise SigningKeyError(f"{private_path} already exists: a new key never replaces one.")
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_path, public_path


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise SigningKeyError(f"{path} is not an RSA public key.")
    return key
