from __future__ import annotations

import pytest

from hsmkms import envelope
from hsmkms.errors import InvalidCiphertext

IV = bytes(range(12))
SEALED = b"c" * 5 + b"t" * 16


def test_round_trip() -> None:
    data = envelope.Envelope("hkvabc", IV, SEALED).to_bytes()
    parsed = envelope.parse(data)
    assert (parsed.version_id, parsed.iv, parsed.sealed) == ("hkvabc", IV, SEALED)
    assert data.startswith(b"HKMS\x01\x06hkvabc")


def test_aad_binds_header_and_context() -> None:
    parsed = envelope.parse(envelope.Envelope("v1", IV, SEALED).to_bytes())
    assert parsed.aad(b"ctx") == b"HKMS\x01\x02v1ctx"
    assert envelope.gcm_aad("v1", b"ctx") == parsed.aad(b"ctx")
    # Different (version, context) splits never give the same AAD.
    assert envelope.gcm_aad("v1", b"2x") != envelope.gcm_aad("v12", b"x")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HKMS",
        b"XKMS\x01\x02v1" + IV + SEALED,  # magic
        b"HKMS\x02\x02v1" + IV + SEALED,  # format version
        b"HKMS\x01\x00" + IV + SEALED,  # empty version ID
        b"HKMS\x01\x33" + b"v" * 51 + IV + SEALED,  # version ID too long
        b"HKMS\x01\x02v\xff" + IV + SEALED,  # version ID not ASCII
        b"HKMS\x01\x09v1" + IV,  # version ID runs past the end
        b"HKMS\x01\x02v1" + IV + b"t" * 15,  # shorter than a tag
    ],
)
def test_malformed_is_rejected(data: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        envelope.parse(data)
