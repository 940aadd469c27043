"""The sandbox's id_token signing key: RS256 JSON Web Tokens and the JWKS that publishes the public half."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .state import JSON


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE writes it (RFC 7515, section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def at_hash(access_token: str) -> str:
    """OpenID Connect's `at_hash` for an RS256 token: the left half of SHA-256 of the access token, base64url.

    https://openid.net/specs/openid-connect-core-1_0.html#CodeIDToken (section 3.3.2.11)."""
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


class SigningKey:
    """An RSA key pair made when the emulator starts; Slack signs its id_tokens with RS256
    (https://slack.com/.well-known/openid-configuration: id_token_signing_alg_values_supported ["RS256"])."""

    def __init__(self) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._private.public_key().public_numbers()
        self._n, self._e = _uint(numbers.n), _uint(numbers.e)
        # The key id: RFC 7638's thumbprint of the public key, so it changes whenever the key does.
        canonical = json.dumps({"e": self._e, "kty": "RSA", "n": self._n}, separators=(",", ":"), sort_keys=True)
        self.kid = b64url(hashlib.sha256(canonical.encode()).digest())

    def jwk(self) -> JSON:
        """The public key as a JSON Web Key, the way https://slack.com/openid/connect/keys lists its keys."""
        return {"e": self._e, "n": self._n, "kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> JSON:
        """The key set served at /openid/connect/keys."""
        return {"keys": [self.jwk()]}

    def sign(self, claims: JSON) -> str:
        """A compact JWS (header.payload.signature) over `claims`, RS256 with this key's `kid`."""
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        signature = self._private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"
