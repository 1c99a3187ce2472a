"""`client(service_name)`: a boto3 client on AWS, or the local back end's.

The back end comes from FACEREC_BACKEND: `local` (the default: no account, no
network, real face recognition on this machine) or `aws`. Local clients share
one data folder (FACEREC_DATA_DIR), and one instance per service and folder,
so that the engine's in-memory matrices and the models are loaded once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from facerec.paths import data_dir as resolve_data_dir

BACKENDS = ("local", "aws")
LOCAL_SERVICES = ("rekognition", "s3")

_cache: dict[tuple[str, Path], Any] = {}
_cache_lock = threading.RLock()


class ConfigurationError(ValueError):
    """A setting has a value the app cannot use; the message names the setting."""


def backend() -> str:
    chosen = os.environ.get("FACEREC_BACKEND", "local").strip().lower() or "local"
    if chosen not in BACKENDS:
        raise ConfigurationError(f"FACEREC_BACKEND must be one of {', '.join(BACKENDS)}, not {chosen!r}")
    return chosen


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service_name: str, *, data_dir: str | os.PathLike | None = None, **kwargs: Any) -> Any:
    """A boto3-shaped client for `service_name` on the configured back end."""
    if backend() == "aws":
        import boto3

        return boto3.client(service_name, **kwargs)
    return local_client(service_name, data_dir)


def local_client(service_name: str, data_dir: str | os.PathLike | None = None) -> Any:
    if service_name not in LOCAL_SERVICES:
        raise ConfigurationError(
            f"the local back end has no {service_name!r} service (it has {', '.join(LOCAL_SERVICES)})"
        )
    folder = resolve_data_dir(data_dir)
    with _cache_lock:
        key = (service_name, folder.resolve())
        if key not in _cache:
            _cache[key] = _make(service_name, folder)
        return _cache[key]


def _make(service_name: str, folder: Path) -> Any:
    from facerec.local.rekognition import LocalRekognition
    from facerec.local.s3 import LocalS3

    if service_name == "s3":
        return LocalS3(folder, region=region())
    return LocalRekognition(folder, s3=local_client("s3", folder), region=region())
