"""`client(service_name)`: a boto3 client on AWS, or the local back end's.

The back end comes from the settings (FACEREC_BACKEND): `local` (the default:
no account, no network, real face recognition on this machine) or `aws`. Local
clients of one data folder are made once and shared, so the models and the
search matrices load once. The local bucket's notification invokes lambda.py's
handler, wired here: the bucket itself knows only function names.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from facerec.paths import private_dir
from facerec.settings import Settings, load

LOCAL_SERVICES = ("rekognition", "s3", "dynamodb")
LAMBDA_FILE = Path(__file__).resolve().parents[1] / "lambda.py"

_cache: dict[tuple[str, Path], Any] = {}
_cache_lock = threading.RLock()


def client(service_name: str, settings: Settings | None = None, **kwargs: Any) -> Any:
    """A boto3-shaped client for `service_name` on the configured back end."""
    settings = settings or load()
    if settings.backend == "aws":
        import boto3

        return boto3.client(service_name, region_name=kwargs.pop("region_name", settings.region), **kwargs)
    return local_client(service_name, settings)


def local_client(service_name: str, settings: Settings) -> Any:
    if service_name not in LOCAL_SERVICES:
        raise ValueError(f"the local back end has no {service_name!r} service (it has {', '.join(LOCAL_SERVICES)})")
    folder = private_dir(Path(settings.data_dir)).resolve()
    with _cache_lock:
        key = (service_name, folder)
        if key not in _cache:
            _cache[key] = _make(service_name, folder, settings)
        return _cache[key]


def _make(service_name: str, folder: Path, settings: Settings) -> Any:
    from facerec.local.dynamodb import LocalDynamoDB
    from facerec.local.rekognition import LocalRekognition
    from facerec.local.s3 import LocalS3

    if service_name == "s3":
        return LocalS3(
            folder,
            region=settings.region,
            functions={settings.lambda_name: _local_lambda(settings)},
            adversarial_delivery=settings.delivery == "adversarial",
        )
    if service_name == "dynamodb":
        return LocalDynamoDB(folder, region=settings.region)
    return LocalRekognition(folder, s3=local_client("s3", settings), region=settings.region, models=settings.models)


def _local_lambda(settings: Settings):
    """lambda.py's handler, run in this process with the local clients and the configured names."""

    def invoke(event: dict, context: Any) -> Any:
        handler = lambda_module()
        clients = handler.Clients(
            s3=local_client("s3", settings),
            rekognition=local_client("rekognition", settings),
            dynamodb=local_client("dynamodb", settings),
        )
        names = handler.Names(table=settings.dynamodb_table_name, collection=settings.rekognition_collection_name)
        return handler.handle(event, clients, names)

    return invoke


def lambda_module() -> ModuleType:
    """lambda.py, loaded by path (`lambda` is a keyword, and the file lives beside the package).

    Under its own name, `lambda`, once per process: whoever imports it (the tests, say) gets this
    same module, so there is one TransientErrors class, not two.
    """
    with _cache_lock:
        if "lambda" not in sys.modules:
            spec = importlib.util.spec_from_file_location("lambda", LAMBDA_FILE)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up while it loads
            spec.loader.exec_module(module)
        return sys.modules["lambda"]
