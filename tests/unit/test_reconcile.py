"""Crash-safety rules of the key lifecycle, with a real store and a fake token.

The fake stands in for SoftHSM2 only to inject states a real token reaches through crashes
(objects left behind, objects missing); the same paths run against the real token in
tests/e2e/test_durability.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hsmkms.domain import LifecyclePolicy, SymmetricAlgorithm, VersionStatus, utcnow
from hsmkms.errors import Unavailable
from hsmkms.service.background import reconcile
from hsmkms.service.keys import KeyService, KeySpec
from hsmkms.store import Store

DEAD_OWNER = "no-such-host-is-checked:1:0"


class FakeHsm:
    def __init__(self) -> None:
        self.objects: set[str] = set()
        self.destroyed: list[str] = []
        self.on_generate = lambda version_id: None
        self._lock = threading.Lock()

    def generate_aes_key(self, version_id: str, key_bytes: int) -> None:
        with self._lock:
            self.objects.add(version_id)
        self.on_generate(version_id)

    def destroy_key(self, version_id: str) -> bool:
        with self._lock:
            found = version_id in self.objects
            self.objects.discard(version_id)
            if found:
                self.destroyed.append(version_id)
            return found

    def key_version_ids(self) -> set[str]:
        return set(self.objects)

    def encrypt(self, version_id: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        raise NotImplementedError

    def decrypt(self, version_id: str, iv: bytes, sealed: bytes, aad: bytes) -> bytes:
        raise NotImplementedError

    def random_bytes(self, n: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def hsm() -> FakeHsm:
    return FakeHsm()


@pytest.fixture
def service(store: Store, hsm: FakeHsm) -> KeyService:
    policy = LifecyclePolicy(min_pending_period=timedelta(seconds=1))
    return KeyService(store, hsm, policy)  # type: ignore[arg-type]


def new_key(service: KeyService, **extra: object) -> str:
    op = service.create(
        KeySpec(folder_id="f", default_algorithm=SymmetricAlgorithm.AES_256, **extra)
    )  # type: ignore[arg-type]
    return op.key_id


def test_clean_after_normal_work(service: KeyService, store: Store, hsm: FakeHsm) -> None:
    key_id = new_key(service)
    service.rotate(key_id)
    report = reconcile(store, hsm, fix=False)  # type: ignore[arg-type]
    assert report.clean and report.versions == 2 and report.objects == 2
    assert store.pending_versions() == []


def test_interrupted_create_is_removed(store: Store, hsm: FakeHsm) -> None:
    # A process died after generating the object, before recording the version.
    store.add_pending_version("hkvinterrupted", DEAD_OWNER, utcnow() - timedelta(hours=1))
    hsm.objects.add("hkvinterrupted")
    report = reconcile(store, hsm, fix=False)  # type: ignore[arg-type]
    assert report.unfinished_creations == ["hkvinterrupted"] and not report.clean
    assert report.orphans == []
    report = reconcile(store, hsm, fix=True)  # type: ignore[arg-type]
    assert report.abandoned_creations == ["hkvinterrupted"]
    assert "hkvinterrupted" not in hsm.objects and store.pending_versions() == []
    assert reconcile(store, hsm, fix=False).clean  # type: ignore[arg-type]


def test_creation_in_progress_is_left_alone(
    service: KeyService, store: Store, hsm: FakeHsm
) -> None:
    seen = []

    def reconcile_midway(version_id: str) -> None:
        seen.append(reconcile(store, hsm, fix=True))  # type: ignore[arg-type]

    hsm.on_generate = reconcile_midway
    key_id = new_key(service)
    assert seen[0].in_progress and seen[0].clean
    assert service.get(key_id).primary_version.id in hsm.objects


def test_version_is_never_recorded_once_its_intent_is_gone(
    service: KeyService, store: Store, hsm: FakeHsm
) -> None:
    # Reconciliation judged the creation abandoned while it was still running.
    hsm.on_generate = store.remove_pending_version
    with pytest.raises(Unavailable):
        new_key(service)
    assert hsm.objects == set() and store.version_statuses() == {}


def test_interrupted_destruction_is_finished(
    service: KeyService, store: Store, hsm: FakeHsm
) -> None:
    key_id = new_key(service)
    old = service.get(key_id).primary_version.id
    service.rotate(key_id)
    service.schedule_version_destruction(key_id, old, timedelta(seconds=1))
    # The store claimed the destruction, then the process died before C_DestroyObject.
    assert store.claim_due_destruction(old, utcnow() + timedelta(seconds=2))
    assert store.version_statuses()[old] == VersionStatus.DESTROYED and old in hsm.objects
    assert reconcile(store, hsm, fix=False).pending_destructions == [old]  # type: ignore[arg-type]
    assert reconcile(store, hsm, fix=True).finished_destructions == [old]  # type: ignore[arg-type]
    assert old not in hsm.objects


def test_missing_material_is_reported_and_nothing_destroyed(
    service: KeyService, store: Store, hsm: FakeHsm
) -> None:
    key_id = new_key(service)
    version_id = service.get(key_id).primary_version.id
    hsm.objects.discard(version_id)
    hsm.objects.add("hkvforeign")
    report = reconcile(store, hsm, fix=True)  # type: ignore[arg-type]
    assert report.missing_material == [version_id] and report.orphans == ["hkvforeign"]
    assert not report.clean and hsm.destroyed == []
    assert any(line.startswith("ERROR") for line in report.lines())


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def workers(store: Store, hsm: FakeHsm, clock: Clock, n: int = 4) -> list[KeyService]:
    policy = LifecyclePolicy(min_pending_period=timedelta(seconds=1))
    return [KeyService(store, hsm, policy, clock) for _ in range(n)]  # type: ignore[arg-type]


def run_all(jobs: list[Callable[[], list[str]]]) -> list[str]:
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda j=j: results.append(j())) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(r for batch in results for r in batch)


def test_due_destruction_happens_once_across_workers(store: Store, hsm: FakeHsm) -> None:
    clock = Clock()
    services = workers(store, hsm, clock)
    key_id = new_key(services[0])
    old = services[0].get(key_id).primary_version.id
    services[0].rotate(key_id)
    services[0].schedule_version_destruction(key_id, old, timedelta(seconds=60))
    clock.now += timedelta(seconds=59)
    assert services[1].destroy_due_versions() == []  # never before destroy_at
    clock.now += timedelta(seconds=2)
    assert run_all([s.destroy_due_versions for s in services]) == [old]
    assert hsm.destroyed == [old]


def test_scheduled_rotation_happens_once_across_workers(store: Store, hsm: FakeHsm) -> None:
    clock = Clock()
    services = workers(store, hsm, clock)
    key_id = new_key(services[0], rotation_period=timedelta(hours=1))
    clock.now += timedelta(minutes=59)
    assert services[0].rotate_due_keys() == []  # not due yet
    clock.now += timedelta(minutes=2)
    assert run_all([s.rotate_due_keys for s in services]) == [key_id]
    assert len(store.version_statuses()) == 2
    # Losers discarded the objects they generated: the token holds exactly the two versions.
    assert hsm.objects == set(store.version_statuses()) and store.pending_versions() == []
    # Due again one period after the rotation, not before.
    clock.now += timedelta(minutes=59)
    assert run_all([s.rotate_due_keys for s in services]) == []
    clock.now += timedelta(minutes=2)
    assert run_all([s.rotate_due_keys for s in services]) == [key_id]
