from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmkms.config import ConfigError
from hsmkms.errors import Unauthenticated
from hsmkms.service.jwt_auth import JwtIssuer, JwtVerifier, jwt_header

ISSUER = "https://issuer.example"
AUDIENCE = "hsmkms"
PEM_ISSUER = "https://pem.example"


@dataclass(frozen=True)
class Keys:
    rsa_key: rsa.RSAPrivateKey
    rsa_key2: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    pem_key: ec.EllipticCurvePrivateKey
    other_key: rsa.RSAPrivateKey
    jwks: Path
    pem: Path


def _public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, alg: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key())
    )
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    directory = tmp_path_factory.mktemp("jwt")
    made = Keys(
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa_key2=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec_key=ec.generate_private_key(ec.SECP256R1()),
        pem_key=ec.generate_private_key(ec.SECP256R1()),
        other_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        jwks=directory / "jwks.json",
        pem=directory / "signer.pem",
    )
    jwks = {
        "keys": [
            _jwk(made.rsa_key, "rsa-1", "RS256"),
            _jwk(made.rsa_key2, "rsa-2", "RS256"),
            _jwk(made.ec_key, "ec-1", "ES256"),
        ]
    }
    made.jwks.write_text(json.dumps(jwks))
    made.pem.write_bytes(_public_pem(made.pem_key))
    return made


@pytest.fixture(scope="module")
def verifier(keys: Keys) -> JwtVerifier:
    return JwtVerifier(
        [
            JwtIssuer(issuer=ISSUER, audience=AUDIENCE, jwks_file=keys.jwks),
            JwtIssuer(
                issuer=PEM_ISSUER,
                audience=AUDIENCE,
                algorithms=("ES256",),
                public_key_files=(keys.pem,),
                subject_type="user",
            ),
        ]
    )


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "sa-1",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(key: Any, alg: str = "RS256", kid: str | None = None, **overrides: Any) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(_claims(**overrides), key, algorithm=alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _rejected(verifier: JwtVerifier, token: str, message: str) -> None:
    with pytest.raises(Unauthenticated, match=message) as failure:
        verifier.verify(token)
    assert token not in failure.value.message
    assert len(failure.value.message) < 60


def test_valid_tokens(verifier: JwtVerifier, keys: Keys) -> None:
    assert verifier.verify(_sign(keys.rsa_key, kid="rsa-1")) == "serviceAccount:sa-1"
    assert (
        verifier.verify(_sign(keys.ec_key, "ES256", kid="ec-1", sub="sa-2"))
        == "serviceAccount:sa-2"
    )
    pem_token = _sign(keys.pem_key, "ES256", iss=PEM_ISSUER, sub="alice")
    assert verifier.verify(pem_token) == "user:alice"


def test_audience_in_a_list(verifier: JwtVerifier, keys: Keys) -> None:
    token = _sign(keys.rsa_key, kid="rsa-1", aud=["other", AUDIENCE])
    assert verifier.verify(token) == "serviceAccount:sa-1"


def test_kid_selects_the_key(verifier: JwtVerifier, keys: Keys) -> None:
    assert verifier.verify(_sign(keys.rsa_key2, kid="rsa-2")) == "serviceAccount:sa-1"
    # Signed by rsa-2 but naming rsa-1: only rsa-1 is tried.
    _rejected(verifier, _sign(keys.rsa_key2, kid="rsa-1"), "signature is invalid")
    # A kid the JWKS does not have: no JWKS key is tried.
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-9"), "signing key is unknown")


def test_without_kid_every_key_is_tried(verifier: JwtVerifier, keys: Keys) -> None:
    assert verifier.verify(_sign(keys.rsa_key2)) == "serviceAccount:sa-1"
    assert verifier.verify(_sign(keys.ec_key, "ES256")) == "serviceAccount:sa-1"


def test_expired(verifier: JwtVerifier, keys: Keys) -> None:
    now = int(time.time())
    _rejected(
        verifier,
        _sign(keys.rsa_key, kid="rsa-1", iat=now - 600, exp=now - 120),
        "token has expired",
    )
    # Within the leeway (30 s) an expired token is still accepted.
    assert verifier.verify(_sign(keys.rsa_key, kid="rsa-1", exp=now - 5)) == "serviceAccount:sa-1"


def test_not_yet_valid(verifier: JwtVerifier, keys: Keys) -> None:
    now = int(time.time())
    _rejected(
        verifier, _sign(keys.rsa_key, kid="rsa-1", nbf=now + 600, exp=now + 900), "not yet valid"
    )


def test_wrong_audience(verifier: JwtVerifier, keys: Keys) -> None:
    _rejected(
        verifier, _sign(keys.rsa_key, kid="rsa-1", aud="someone-else"), "audience is not accepted"
    )
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-1", aud=None), "no aud claim")


def test_unknown_issuer(verifier: JwtVerifier, keys: Keys) -> None:
    _rejected(
        verifier,
        _sign(keys.rsa_key, kid="rsa-1", iss="https://evil.example"),
        "issuer is not trusted",
    )
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-1", iss=None), "issuer is not trusted")
    # A token from one issuer is not verified with another issuer's keys.
    _rejected(
        verifier, _sign(keys.ec_key, "ES256", kid="ec-1", iss=PEM_ISSUER), "signature is invalid"
    )


def test_bad_signature(verifier: JwtVerifier, keys: Keys) -> None:
    _rejected(verifier, _sign(keys.other_key, kid="rsa-1"), "signature is invalid")
    _rejected(verifier, _sign(keys.other_key), "signature is invalid")
    good = _sign(keys.rsa_key, kid="rsa-1")
    header, _, signature = good.split(".")
    tampered = f"{header}.{_b64(json.dumps(_claims(sub='admin')).encode())}.{signature}"
    _rejected(verifier, tampered, "signature is invalid")


def test_alg_none(verifier: JwtVerifier) -> None:
    _rejected(
        verifier,
        _unsigned({"alg": "none", "typ": "JWT"}, _claims()) + ".",
        "algorithm is not allowed",
    )
    _rejected(verifier, _unsigned({"alg": "None"}, _claims()) + ".", "algorithm is not allowed")


def test_hs256_with_the_public_key_as_secret(verifier: JwtVerifier, keys: Keys) -> None:
    # The classic algorithm-confusion attack: PyJWT would refuse to create this token, so it is
    # assembled by hand, HMAC-signed with the issuer's public key PEM.
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, _claims())
    mac = hmac.new(_public_pem(keys.rsa_key), signing_input.encode(), hashlib.sha256).digest()
    _rejected(verifier, f"{signing_input}.{_b64(mac)}", "algorithm is not allowed")


def test_algorithm_not_configured_for_issuer(verifier: JwtVerifier, keys: Keys) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    _rejected(verifier, _sign(p384, "ES384", iss=PEM_ISSUER), "algorithm is not allowed")
    _rejected(verifier, _sign(keys.rsa_key, "PS256", iss=ISSUER), "algorithm is not allowed")


def test_missing_claims(verifier: JwtVerifier, keys: Keys) -> None:
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-1", sub=None), "no sub claim")
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-1", exp=None), "no exp claim")
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-1", sub=""), "subject is invalid")
    _rejected(verifier, _sign(keys.rsa_key, kid="rsa-1", sub="a\nb"), "subject is invalid")


def test_malformed_payload(verifier: JwtVerifier) -> None:
    header = _b64(json.dumps({"alg": "RS256"}).encode())
    _rejected(verifier, f"{header}.{_b64(b'not json')}.c2ln", "token is malformed")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "opaque-api-token-0123456789",
        "hkat1.abcdef",
        "a.b.c",  # three parts, but the header is not JSON
        f"{_b64(b'{}')}.e30.sig",  # JSON header without "alg"
        f"{_b64(b'[1]')}.e30.sig",
        "eyJhbGciOiJSUzI1NiJ9.e30.sig.extra",
        "eyJhbGciOiJSUzI1NiJ9.e30=.sig",  # padding is not base64url
    ],
)
def test_not_a_jwt(verifier: JwtVerifier, token: str) -> None:
    assert jwt_header(token) is None
    assert verifier.verify(token) is None


def test_configuration_errors(keys: Keys, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, algorithms=("HS256",), jwks_file=keys.jwks)])
    with pytest.raises(ConfigError, match="not allowed"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, algorithms=("none",), jwks_file=keys.jwks)])
    with pytest.raises(ConfigError, match="jwks_file or public_key_files"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE)])
    with pytest.raises(ConfigError, match="configured twice"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, jwks_file=keys.jwks)] * 2)
    with pytest.raises(ConfigError, match="does not exist"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, jwks_file=tmp_path / "missing.json")])
    with pytest.raises(ConfigError, match="no public key for algorithms ES384"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, algorithms=("ES384",), jwks_file=keys.jwks)])
    private = tmp_path / "private.pem"
    private.write_bytes(
        keys.ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="private key"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, public_key_files=(private,))])
    secret_jwks = tmp_path / "secret.json"
    secret_jwks.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(ConfigError, match="symmetric"):
        JwtVerifier([JwtIssuer(ISSUER, AUDIENCE, jwks_file=secret_jwks)])
