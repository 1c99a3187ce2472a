"""Import rate: photos a second that `import` puts through the normal pipeline, locally and on the AWS back end.

    python bench/import_rate.py [--photos 30] [--faces ../shared/faces]

An archive of distinct photos (the shared people's, mirrored and rescaled) is exported from a local
collection, then imported into a fresh local data folder and into the AWS back end as the tests
run it (moto's S3 and DynamoDB, `serve` as Rekognition, the Lambda stand-in delivering events late
and twice). Each photo waits for its indexer's outcome, as an add does: the rate is end to end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def local_service(data: Path, delivery: str = "normal"):
    from facerec.service import open_service
    from facerec.settings import load

    return open_service(load(env_file=None, environ={"FACEREC_DATA_DIR": str(data), "FACEREC_DELIVERY": delivery}))


@contextmanager
def aws_service(work: Path):
    """The AWS back end as the tests make it: moto, `serve` for Rekognition, the Lambda stand-in."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from facerec.service import FaceService, ensure_resources
    from facerec.settings import load
    from tests.conftest import _base_env, aws_env
    from tests.lambda_service import LambdaService
    from tests.test_server import running_server, server_env

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
        env = server_env(work / "rekognition", FACEREC_BACKEND="aws", **aws_env(moto_url, ""))
        with running_server(env, work / "server.log") as rekognition_url:
            client_env = aws_env(moto_url, rekognition_url)
            os.environ.update(client_env)
            unique = f"b{uuid.uuid4().hex[:12]}"
            settings = load(
                env_file=None,
                environ={
                    "FACEREC_BACKEND": "aws",
                    "FACEREC_DATA_DIR": str(work / "aws-data"),
                    "AWS_REGION": "us-east-1",
                    "S3_BUCKET_NAME": unique,
                    "DYNAMODB_TABLE_NAME": unique,
                    "REKOGNITION_COLLECTION_NAME": unique,
                },
            )
            clients = [boto3.client(n, region_name=settings.region) for n in ("s3", "rekognition", "dynamodb")]
            ensure_resources(settings, *clients)
            function_env = {**_base_env(), **client_env, **settings.lambda_environment}
            with LambdaService(clients[0], unique, settings.region, function_env, ROOT, settings.lambda_name):
                yield FaceService(settings, *clients)
    finally:
        moto.stop()


def timed_import(service, archive: Path) -> tuple[float, int]:
    from facerec.archive import import_collection

    start = time.monotonic()
    summary = import_collection(service, archive)
    return time.monotonic() - start, len(summary.imported)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    args = parser.parse_args()
    from bench.bulk_add import photos
    from facerec.archive import export_collection
    from facerec.bulk import add_photos

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = local_service(work / "source")
        add_photos(source.settings, "Barack Obama", photos(args.faces, args.photos))
        archive = work / "collection.facerec"
        exported = export_collection(source, archive)
        print(f"archive: {len(exported)} photos, {archive.stat().st_size / 1e6:.1f} MB")
        for label, make in (
            ("local", lambda: _nullcontext(local_service(work / "target"))),
            ("aws (moto, serve, the Lambda stand-in)", lambda: aws_service(work)),
        ):
            with make() as service:
                seconds, imported = timed_import(service, archive)
            print(f"{label:<40} {imported} photos in {seconds:5.1f} s: {imported / seconds:5.1f} photos/s")
    return 0


@contextmanager
def _nullcontext(value):
    yield value


if __name__ == "__main__":
    raise SystemExit(main())
