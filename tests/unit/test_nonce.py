"""The nonce budget's counting rules, with a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_reconcile import FakeHsm, KeyService

from hsmkms.domain import LifecyclePolicy, SymmetricAlgorithm
from hsmkms.errors import FailedPrecondition
from hsmkms.service.keys import KeySpec
from hsmkms.service.nonce import EncryptionCounter, NonceBudget
from hsmkms.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def test_counts_are_flushed_and_the_key_rotated_at_the_threshold(store: Store) -> None:
    policy = LifecyclePolicy(nonce_rotation_threshold=10, encryption_limit=15)
    keys = KeyService(store, FakeHsm(), policy)  # type: ignore[arg-type]
    key_id = keys.create(
        KeySpec(folder_id="f", default_algorithm=SymmetricAlgorithm.AES_256)
    ).key_id
    first = keys.get(key_id).primary_version
    workers = [EncryptionCounter(store, policy) for _ in range(2)]
    for i in range(9):
        workers[i % 2].reserve(first)
    budget = NonceBudget(workers[0], keys)
    budget.run_once()
    assert keys.get(key_id).primary_version.id == first.id  # 5 + 4 pending: not yet
    assert workers[1].flush() == []  # 9 < 10
    workers[0].reserve(first)
    budget.run_once()
    rotated = keys.get(key_id).primary_version
    assert rotated.id != first.id
    assert store.get_version(first.id).encryptions == 10  # type: ignore[union-attr]
    ops = keys.list_operations(key_id, 0, "").items
    assert ops[0].description == "Rotate symmetric key (encryption limit)"
    # The old version keeps decrypting but may not encrypt past the hard limit.
    fresh = EncryptionCounter(store, policy)
    stored = store.get_version(first.id)
    assert stored is not None
    for _ in range(5):
        fresh.reserve(stored)
    with pytest.raises(FailedPrecondition, match="limit"):
        fresh.reserve(stored)
    # Reaching the threshold again does not rotate twice.
    workers[1].reserve(first)
    NonceBudget(workers[1], keys).run_once()
    assert keys.get(key_id).primary_version.id == rotated.id
