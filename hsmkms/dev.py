"""`hsmkms dev`: everything a working server needs, created under one data directory."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from hsmkms.config import Settings, read_secret_file, write_secret_file
from hsmkms.domain import LifecyclePolicy
from hsmkms.hsm import softhsm
from hsmkms.hsm.pkcs11_hsm import TokenConfig

DEV_TOKEN_LABEL = "hsmkms-dev"
DEV_LIFECYCLE = LifecyclePolicy(
    min_pending_period=timedelta(seconds=1),
    key_deletion_pending_period=timedelta(seconds=10),
)


def _secret(path: Path) -> str:
    if not path.exists():
        write_secret_file(path, secrets.token_urlsafe(24))
    return read_secret_file(path)


def prepare(data_dir: Path, listen: str) -> Settings:
    """Create (if absent) the SoftHSM2 token, its PINs and the store under data_dir."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf = softhsm.write_config(data_dir)
    user_pin = _secret(data_dir / "user.pin")
    so_pin = _secret(data_dir / "so.pin")
    module = softhsm.default_module_path()
    softhsm.ensure_token(module, conf, DEV_TOKEN_LABEL, so_pin, user_pin)
    return Settings(
        token=TokenConfig(module_path=module, token_label=DEV_TOKEN_LABEL, pin=user_pin),
        store_url=f"sqlite:///{data_dir / 'hsmkms.db'}",
        listen=listen,
        module_environment={"SOFTHSM2_CONF": str(conf)},
        # Short enough that scheduled destruction and rotation can be tried out and tested.
        lifecycle=DEV_LIFECYCLE,
        scheduler_interval=1.0,
    )
