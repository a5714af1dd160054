"""Verification of JWT bearer tokens signed by trusted issuers with asymmetric keys.

Each trusted issuer is configured with the audience its tokens must name and the public keys
that sign them (a JWKS file and/or PEM files), loaded once when the verifier is built; nothing
is fetched over the network. A verified token maps to the subject `<subject_type>:<sub>`.

`JwtVerifier.verify` tells three outcomes apart: a valid JWT (the subject), a string that is
not a JWT at all (None, so the caller can try other kinds of credential), and a JWT that fails
any check (`Unauthenticated`, with a short message that never contains the token).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from hsmkms.errors import Unauthenticated

# Asymmetric algorithms only: `none` and the HMAC family (HS*) are never accepted, so a public
# key can never be misused as a shared secret.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
MIN_RSA_BITS = 2048
# Far beyond any real token; bounds the work spent on a hostile one.
MAX_TOKEN_LENGTH = 16 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
# Control characters in a subject could forge log lines or confuse later matching.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


@dataclass(frozen=True)
class JwtIssuer:
    """One trusted token issuer: the `iss` it uses, the `aud` it must name, its keys."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwks_file: Path | None = None
    public_key_files: tuple[Path, ...] = ()
    subject_type: str = "serviceAccount"
    leeway_seconds: int = 30


@dataclass(frozen=True)
class _Key:
    key: PublicKey
    kid: str | None
    # The JWK's own "alg", which then is the only algorithm this key verifies.
    algorithm: str | None
    source: str


def _config_error(message: str) -> Exception:
    # Imported here: hsmkms.config may later build JwtIssuer values from the configuration file
    # and so import this module; a top-level import back would be a cycle.
    from hsmkms.config import ConfigError

    return ConfigError(message)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(segment: str) -> dict[str, Any] | None:
    try:
        value = json.loads(_b64decode(segment))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def jwt_header(token: str) -> dict[str, Any] | None:
    """The JOSE header if `token` has the compact JWT form (three base64url parts, the first a
    JSON object with "alg"); None for anything else, such as an opaque API token."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not all(_SEGMENT.match(p) for p in parts):
        return None
    header = _json_object(parts[0])
    if header is None or "alg" not in header:
        return None
    return header


def _fits(key: _Key, algorithm: str) -> bool:
    if key.algorithm is not None and key.algorithm != algorithm:
        return False
    if algorithm[:2] in ("RS", "PS"):
        return isinstance(key.key, rsa.RSAPublicKey)
    if algorithm in _EC_CURVES:
        return (
            isinstance(key.key, ec.EllipticCurvePublicKey)
            and key.key.curve.name == _EC_CURVES[algorithm]
        )
    if algorithm == "EdDSA":
        return isinstance(key.key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return False


def _public_key(value: object, source: str) -> PublicKey:
    if not isinstance(value, PublicKey):
        raise _config_error(f"{source}: expected a public RSA, EC or Ed25519/Ed448 key")
    if isinstance(value, rsa.RSAPublicKey) and value.key_size < MIN_RSA_BITS:
        raise _config_error(f"{source}: RSA keys must have at least {MIN_RSA_BITS} bits")
    return value


def _load_jwks(path: Path) -> list[_Key]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise _config_error(f"JWKS file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise _config_error(f"JWKS file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise _config_error(f'JWKS file {path}: expected an object with a "keys" list')
    keys = []
    for index, jwk in enumerate(data["keys"]):
        source = f"JWKS file {path}, key {index}"
        if not isinstance(jwk, dict):
            raise _config_error(f"{source}: expected an object")
        if jwk.get("use", "sig") != "sig":
            continue  # an encryption key published beside the signing keys
        if jwk.get("kty") == "oct":
            raise _config_error(f"{source}: symmetric keys are not accepted")
        if "d" in jwk:
            raise _config_error(f"{source}: contains a private key; publish only public keys")
        algorithm = jwk.get("alg")
        if algorithm is not None and algorithm not in SUPPORTED_ALGORITHMS:
            raise _config_error(f"{source}: algorithm {algorithm!r} is not supported")
        try:
            loaded = jwt.PyJWK(jwk)
        except jwt.PyJWTError as exc:
            raise _config_error(f"{source}: {exc}") from None
        kid = jwk.get("kid")
        keys.append(
            _Key(
                key=_public_key(loaded.key, source),
                kid=kid if isinstance(kid, str) else None,
                algorithm=algorithm,
                source=source,
            )
        )
    return keys


def _load_pem(path: Path) -> list[_Key]:
    source = f"public key file {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _config_error(f"{source} does not exist") from None
    except OSError as exc:
        raise _config_error(f"{source}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        raise _config_error(f"{source}: contains a private key; give the public key only")
    try:
        if b"-----BEGIN CERTIFICATE" in data:
            values: list[object] = [c.public_key() for c in x509.load_pem_x509_certificates(data)]
        else:
            values = [serialization.load_pem_public_key(data)]
    except ValueError:
        raise _config_error(f"{source}: no PEM public key or certificate") from None
    return [_Key(_public_key(v, source), None, None, source) for v in values]


def _load_keys(issuer: JwtIssuer) -> tuple[_Key, ...]:
    keys: list[_Key] = []
    if issuer.jwks_file is not None:
        keys.extend(_load_jwks(issuer.jwks_file))
    for path in issuer.public_key_files:
        keys.extend(_load_pem(path))
    usable = [k for k in keys if any(_fits(k, a) for a in issuer.algorithms)]
    if not usable:
        raise _config_error(
            f"JWT issuer {issuer.issuer}: no public key for algorithms "
            f"{', '.join(issuer.algorithms)}"
        )
    return tuple(usable)


def _check_issuer(issuer: JwtIssuer) -> None:
    name = f"JWT issuer {issuer.issuer!r}"
    if not issuer.issuer:
        raise _config_error("JWT issuer: issuer must not be empty")
    if not issuer.audience:
        raise _config_error(f"{name}: audience must not be empty")
    if not issuer.subject_type or ":" in issuer.subject_type:
        raise _config_error(f"{name}: subject_type must be non-empty and contain no ':'")
    if not issuer.algorithms:
        raise _config_error(f"{name}: algorithms must not be empty")
    for algorithm in issuer.algorithms:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise _config_error(
                f"{name}: algorithm {algorithm!r} is not allowed; use one of "
                f"{', '.join(sorted(SUPPORTED_ALGORITHMS))}"
            )
    if issuer.leeway_seconds < 0:
        raise _config_error(f"{name}: leeway_seconds must not be negative")
    if issuer.jwks_file is None and not issuer.public_key_files:
        raise _config_error(f"{name}: set jwks_file or public_key_files")


def _failure(exc: jwt.PyJWTError) -> Unauthenticated:
    """A short, token-free message for a failed check."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return Unauthenticated("token has expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return Unauthenticated("token is not yet valid")
    if isinstance(exc, jwt.InvalidAudienceError):
        return Unauthenticated("token audience is not accepted")
    if isinstance(exc, jwt.InvalidIssuerError):
        return Unauthenticated("token issuer is not trusted")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return Unauthenticated(f"token has no {exc.claim} claim")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return Unauthenticated("token algorithm is not allowed")
    if isinstance(exc, jwt.DecodeError):
        return Unauthenticated("token is malformed")
    return Unauthenticated("token is invalid")


class JwtVerifier:
    """Verifies JWTs from a fixed set of trusted issuers; immutable and thread-safe."""

    def __init__(self, issuers: Iterable[JwtIssuer]) -> None:
        self._issuers: dict[str, tuple[JwtIssuer, tuple[_Key, ...]]] = {}
        for issuer in issuers:
            _check_issuer(issuer)
            if issuer.issuer in self._issuers:
                raise _config_error(f"JWT issuer {issuer.issuer!r} is configured twice")
            self._issuers[issuer.issuer] = (issuer, _load_keys(issuer))

    def verify(self, token: str) -> str | None:
        """The subject of a valid JWT; None if `token` is not a JWT; else `Unauthenticated`."""
        header = jwt_header(token)
        if header is None:
            return None
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("token is too large")
        algorithm = header["alg"]
        if not isinstance(algorithm, str) or algorithm not in SUPPORTED_ALGORITHMS:
            raise Unauthenticated("token algorithm is not allowed")
        claims = _json_object(token.split(".")[1])
        if claims is None:
            raise Unauthenticated("token is malformed")
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss not in self._issuers:
            raise Unauthenticated("token issuer is not trusted")
        issuer, keys = self._issuers[iss]
        if algorithm not in issuer.algorithms:
            raise Unauthenticated("token algorithm is not allowed")
        candidates = self._candidates(keys, header.get("kid"), algorithm)
        if not candidates:
            raise Unauthenticated("token signing key is unknown")
        for key in candidates:
            try:
                verified = jwt.decode(
                    token,
                    key.key,
                    algorithms=[algorithm],
                    audience=issuer.audience,
                    issuer=issuer.issuer,
                    leeway=issuer.leeway_seconds,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError):
                continue
            except jwt.PyJWTError as exc:
                raise _failure(exc) from None
            return f"{issuer.subject_type}:{self._subject(verified)}"
        raise Unauthenticated("token signature is invalid")

    @staticmethod
    def _candidates(keys: Sequence[_Key], kid: object, algorithm: str) -> list[_Key]:
        """The keys to try: the ones with the token's kid if any key carries it, otherwise the
        keys without a kid (PEM files, kid-less JWKs); never a key with a different kid."""
        fitting = [k for k in keys if _fits(k, algorithm)]
        if isinstance(kid, str):
            named = [k for k in fitting if k.kid == kid]
            if named:
                return named
        return [k for k in fitting if k.kid is None or not isinstance(kid, str)]

    @staticmethod
    def _subject(claims: dict[str, Any]) -> str:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or _CONTROL.search(sub):
            raise Unauthenticated("token subject is invalid")
        return sub
