"""The AES-GCM nonce budget: how many times each key version has encrypted.

With 96-bit random IVs, NIST SP 800-38D section 8.3 allows at most 2**32 invocations per key.
Every encryption is counted in memory (one dict update under a lock on the hot path) and the
counts are added to the store in batches, once a second by each worker and at shutdown. A key
whose primary version passes the rotation threshold gets a new primary version; a version at
the hard limit refuses to encrypt. Counts not yet flushed when a process dies are lost, so the
limit sits below 2**32 by a margin far larger than a second of traffic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from hsmkms.domain import KeyVersion, LifecyclePolicy
from hsmkms.errors import FailedPrecondition, KmsError
from hsmkms.service.background import Periodic
from hsmkms.service.keys import KeyService
from hsmkms.store import Store


class EncryptionCounter:
    def __init__(
        self,
        store: Store,
        policy: LifecyclePolicy,
        on_totals: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        self._store = store
        self._on_totals = on_totals
        self._threshold = policy.nonce_rotation_threshold
        self._limit = policy.encryption_limit
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self._known: dict[str, int] = {}  # totals in the store as of this worker's last look

    def reserve(self, version: KeyVersion) -> None:
        """Count one encryption with `version`, refusing it if the version's budget is spent."""
        with self._lock:
            known = max(self._known.get(version.id, 0), version.encryptions)
            pending = self._pending.get(version.id, 0)
            if known + pending >= self._limit:
                raise FailedPrecondition(
                    f"version {version.id} has reached its limit of {self._limit} encryptions; "
                    "rotate the key and encrypt with the new primary version"
                )
            self._pending[version.id] = pending + 1

    def flush(self) -> list[tuple[str, str]]:
        """Store the pending counts; returns (key_id, version_id) of versions past the threshold."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return []
        try:
            totals = self._store.add_encryptions(batch)
        except KmsError:
            with self._lock:  # keep the counts for the next flush
                for version_id, n in batch.items():
                    self._pending[version_id] = self._pending.get(version_id, 0) + n
            raise
        with self._lock:
            for version_id, (_, total) in totals.items():
                self._known[version_id] = total
        if self._on_totals is not None:
            self._on_totals({v: total for v, (_, total) in totals.items()})
        return [(key_id, v) for v, (key_id, total) in totals.items() if total >= self._threshold]


class NonceBudget(Periodic):
    """Flushes the counter every `interval` seconds and rotates keys that need it."""

    name = "nonce-budget"

    def __init__(self, counter: EncryptionCounter, keys: KeyService, interval: float = 1.0) -> None:
        super().__init__(interval)
        self._counter = counter
        self._keys = keys

    def stop(self) -> None:
        super().stop()
        self._guarded(self.run_once)  # the counts of the last calls

    def run_once(self) -> None:
        for key_id, version_id in self._counter.flush():
            self._keys.rotate_exhausted(key_id, version_id)
