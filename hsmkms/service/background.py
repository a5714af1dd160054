"""Scheduled work (destruction, rotation) and token/store reconciliation."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from hsmkms.domain import VersionStatus, utcnow
from hsmkms.errors import KmsError
from hsmkms.hsm import Hsm
from hsmkms.service.keys import KeyService
from hsmkms.service.process import owner_is_gone
from hsmkms.store import Store

log = logging.getLogger(__name__)

# An intent whose owner cannot be checked (another host) counts as abandoned after this long.
ABANDONED_AFTER = timedelta(minutes=10)


class Periodic:
    """Calls run_once() every `interval` seconds on a daemon thread until stopped.

    A failing run is logged and the next one happens on schedule.
    """

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def run_once(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._guarded(self.run_once)

    def _guarded(self, job: Callable[[], object]) -> None:
        try:
            job()
        except KmsError as exc:
            log.warning("%s: %s failed: %s", self.name, getattr(job, "__name__", job), exc.message)
        except Exception:
            log.exception("%s: %s failed", self.name, getattr(job, "__name__", job))


class Scheduler(Periodic):
    """Destruction and rotation, every `interval` seconds.

    Safe to run in every worker and replica at once: each change is claimed by a conditional
    update in the store, so it happens exactly once.
    """

    name = "scheduler"

    def __init__(self, keys: KeyService, interval: float) -> None:
        super().__init__(interval)
        self._keys = keys

    def run_once(self) -> None:
        self._guarded(self._keys.destroy_due_versions)
        self._guarded(self._keys.rotate_due_keys)


@dataclass
class Reconciliation:
    """Differences between the store and the token."""

    missing_material: list[str] = field(default_factory=list)
    finished_destructions: list[str] = field(default_factory=list)
    abandoned_creations: list[str] = field(default_factory=list)
    unfinished_creations: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    pending_destructions: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    versions: int = 0
    objects: int = 0

    @property
    def clean(self) -> bool:
        return not (
            self.missing_material
            or self.pending_destructions
            or self.unfinished_creations
            or self.orphans
        )

    def lines(self) -> list[str]:
        out = [
            f"{self.versions} key versions in the store, {self.objects} key objects in the token"
        ]
        out += [
            f"ERROR version {v} is usable but its key object is missing from the token"
            for v in self.missing_material
        ]
        out += [
            f"FIXED version {v} was DESTROYED; its leftover key object was destroyed"
            for v in self.finished_destructions
        ]
        out += [
            f"WARN version {v} is DESTROYED but its key object is still in the token "
            "(finished by --fix and at server start)"
            for v in self.pending_destructions
        ]
        out += [
            f"FIXED version {v} of an interrupted Create or Rotate was never recorded; "
            "its key object was removed"
            for v in self.abandoned_creations
        ]
        out += [
            f"WARN version {v} of an interrupted Create or Rotate was never recorded "
            "(removed by --fix and at server start)"
            for v in self.unfinished_creations
        ]
        out += [f"INFO version {v} is being created right now" for v in self.in_progress]
        out += [
            f"WARN key object hsmkms:{v} has no version in the store (left outside hsmkms, or "
            "the store was restored from a backup older than the token: then ciphertexts of "
            "this version may exist; keep the object)"
            for v in self.orphans
        ]
        out.append("clean" if self.clean else "differences found")
        return out


def reconcile(store: Store, hsm: Hsm, fix: bool) -> Reconciliation:
    """Compare store and token.

    With `fix`, finish interrupted destructions and remove the objects of interrupted
    creations, and nothing else: nothing a usable version needs is ever destroyed, and objects
    this server knows nothing about are only reported.
    """
    pending = store.pending_versions()
    statuses = store.version_statuses()
    objects = hsm.key_version_ids()
    report = Reconciliation(versions=len(statuses), objects=len(objects))
    for version_id, status in sorted(statuses.items()):
        present = version_id in objects
        if status == VersionStatus.DESTROYED and present:
            if fix:
                hsm.destroy_key(version_id)
                report.finished_destructions.append(version_id)
            else:
                report.pending_destructions.append(version_id)
        elif status != VersionStatus.DESTROYED and not present:
            report.missing_material.append(version_id)
    now = utcnow()
    for intent in pending:
        gone = owner_is_gone(intent.owner)
        if not (gone or (gone is None and now - intent.created_at > ABANDONED_AFTER)):
            report.in_progress.append(intent.version_id)
        elif fix:
            # The store refuses to record a version whose intent is gone, so removing the
            # object here can never take material from a version that is being recorded.
            store.remove_pending_version(intent.version_id)
            hsm.destroy_key(intent.version_id)
            report.abandoned_creations.append(intent.version_id)
        else:
            report.unfinished_creations.append(intent.version_id)
    pending_ids = {intent.version_id for intent in pending}
    report.orphans = sorted(objects - statuses.keys() - pending_ids)
    return report
