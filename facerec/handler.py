"""lambda.py's handler, for the app to run in its own process: the local bucket's deliveries and reindex.

lambda.py is loaded by path (`lambda` is a keyword, and the file lives beside the package), once per
process and under its own name: whoever imports it (the tests, say) gets this same module, so there is
one TransientErrors class, not two. What the handler and the app share about the table is not here but
in facerec.records, which both import normally.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

LAMBDA_FILE = Path(__file__).resolve().parents[1] / "lambda.py"

_load_lock = threading.Lock()


def lambda_module() -> ModuleType:
    """lambda.py, the module."""
    with _load_lock:
        if "lambda" not in sys.modules:
            spec = importlib.util.spec_from_file_location("lambda", LAMBDA_FILE)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up while it loads
            spec.loader.exec_module(module)
        return sys.modules["lambda"]


def run_handler(
    event: dict, s3: Any, rekognition: Any, dynamodb: Any, table: str, collection: str, take_over: bool = False
) -> dict:
    """The handler's `handle` on these clients and names, as the deployed function runs it on its own."""
    handler = lambda_module()
    clients = handler.Clients(s3=s3, rekognition=rekognition, dynamodb=dynamodb)
    return handler.handle(event, clients, handler.Names(table=table, collection=collection), take_over=take_over)


def delete_faces(rekognition: Any, collection: str, face_ids: list[str]) -> None:
    """DeleteFaces for any number of faces, as the handler calls it."""
    lambda_module().delete_faces(rekognition, collection, face_ids)
