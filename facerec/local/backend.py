"""The local back end of one data folder: its S3, DynamoDB and Rekognition, and the models they run.

One is made from the settings wherever the app needs the local back end (a service, the server), and
the clients it hands out are its own: its bucket's notification runs lambda.py's handler with this back
end's clients, and its engine finds faces with this back end's models, loaded on first use and once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from facerec.faces import LazyModels, Models
from facerec.handler import run_handler
from facerec.local.dynamodb import LocalDynamoDB
from facerec.local.rekognition import LocalRekognition
from facerec.local.s3 import LocalS3
from facerec.paths import private_dir
from facerec.settings import Settings

SERVICES = ("rekognition", "s3", "dynamodb")
# A courier may start delivering invocations a dead process left behind while the back end is still
# being made: the handler waits this long for the clients it runs with.
READY_SECONDS = 60.0


class LocalBackend:
    """boto3-shaped clients on the settings' data folder, made once each. `models`: already loaded
    models of the settings' choice, to share (the tests load them once for the run)."""

    def __init__(self, settings: Settings, models: Models | None = None) -> None:
        self.settings = settings
        self.folder = private_dir(Path(settings.data_dir)).resolve()
        self.models = LazyModels(settings.models, models)
        self._ready = threading.Event()
        self.dynamodb = LocalDynamoDB(self.folder, region=settings.region)
        self.s3 = LocalS3(
            self.folder,
            region=settings.region,
            functions={settings.lambda_name: self._run_lambda},
            adversarial_delivery=settings.delivery == "adversarial",
        )
        self.rekognition = LocalRekognition(self.folder, self.models, s3=self.s3, region=settings.region)
        self._ready.set()

    def close(self) -> None:
        """Close its clients: the bucket's first, once the indexer runs under way have finished with the others."""
        self.s3.close()
        self.rekognition.close()
        self.dynamodb.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self, service_name: str) -> Any:
        """This back end's client for `service_name`, as boto3.client names services."""
        if service_name not in SERVICES:
            raise ValueError(f"the local back end has no {service_name!r} service (it has {', '.join(SERVICES)})")
        return getattr(self, service_name)

    def _run_lambda(self, event: dict, context: Any) -> Any:
        """lambda.py's handler, run in this process with this back end's clients and the configured names."""
        if not self._ready.wait(READY_SECONDS):
            raise TimeoutError("the local back end was not ready to run the indexer")
        table, collection = self.settings.dynamodb_table_name, self.settings.rekognition_collection_name
        return run_handler(event, self.s3, self.rekognition, self.dynamodb, table, collection)
