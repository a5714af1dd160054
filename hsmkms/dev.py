"""`hsmkms dev`: everything a working server needs, created under one data directory."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from hsmkms.config import AuthSettings, Settings, read_secret_file, write_secret_file
from hsmkms.domain import LifecyclePolicy, Subject
from hsmkms.hsm import softhsm
from hsmkms.hsm.pkcs11_hsm import TokenConfig
from hsmkms.service.access import ALL_FOLDERS, CredentialService
from hsmkms.store import Store
from hsmkms.tls import ensure_dev_tls

DEV_TOKEN_LABEL = "hsmkms-dev"
DEV_LIFECYCLE = LifecyclePolicy(
    min_pending_period=timedelta(seconds=1),
    key_deletion_pending_period=timedelta(seconds=10),
)


def _secret(path: Path) -> str:
    if not path.exists():
        write_secret_file(path, secrets.token_urlsafe(24))
    return read_secret_file(path)


DEV_ADMIN = Subject("serviceAccount", "admin")


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir.resolve() / 'hsmkms.db'}"


def _bootstrap_admin(data_dir: Path) -> None:
    """Issue the bootstrap admin token into DIR/admin.token (once)."""
    token_file = data_dir / "admin.token"
    if token_file.exists():
        read_secret_file(token_file)  # refuses a file others can read
        return
    store = Store(store_url(data_dir))
    try:
        _, token = CredentialService(store).issue(DEV_ADMIN, description="dev bootstrap admin")
    finally:
        store.close()
    write_secret_file(token_file, token)


def prepare(data_dir: Path, listen: str, auth: bool = False) -> Settings:
    """Create (if absent) the SoftHSM2 token, its PINs and the store under data_dir.

    With `auth`: also a CA and server certificate under DIR/tls, a bootstrap admin token in
    DIR/admin.token (kms.admin on every folder), TLS and authentication on.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf = softhsm.write_config(data_dir)
    user_pin = _secret(data_dir / "user.pin")
    so_pin = _secret(data_dir / "so.pin")
    module = softhsm.default_module_path()
    softhsm.ensure_token(module, conf, DEV_TOKEN_LABEL, so_pin, user_pin)
    tls = None
    auth_settings = AuthSettings()
    if auth:
        tls = ensure_dev_tls(data_dir / "tls").server_files()
        _bootstrap_admin(data_dir)
        auth_settings = AuthSettings(
            enabled=True,
            certificate_subject_type="serviceAccount",
            bootstrap_bindings=((ALL_FOLDERS, "kms.admin", str(DEV_ADMIN)),),
        )
    return Settings(
        token=TokenConfig(module_path=module, token_label=DEV_TOKEN_LABEL, pin=user_pin),
        store_url=store_url(data_dir),
        listen=listen,
        tls=tls,
        auth=auth_settings,
        audit_path=str(data_dir / "audit.log"),
        module_environment={"SOFTHSM2_CONF": str(conf)},
        # Short enough that scheduled destruction and rotation can be tried out and tested.
        lifecycle=DEV_LIFECYCLE,
        scheduler_interval=1.0,
    )
