"""Shared fixtures: the test photographs and clients on a fresh data folder."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR", ROOT.parent / "shared" / "faces"))


def people() -> dict[str, list[Path]]:
    """Each person's photos, by identity label (the folder name)."""
    folder = FACES_DIR / "people"
    return {p.name: sorted(x for x in p.iterdir() if x.is_file()) for p in sorted(folder.iterdir())}


def photo(relative: str) -> bytes:
    return (FACES_DIR / relative).read_bytes()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def letterbox(data: bytes, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """The photo scaled into a size-sized frame, as a webcam would deliver it."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail(size)
    frame = Image.new("RGB", size)
    frame.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return frame


@pytest.fixture(scope="session", autouse=True)
def faces_available() -> None:
    if not (FACES_DIR / "people").is_dir():
        pytest.exit(f"test photographs not found at {FACES_DIR}; set FACEREC_FACES_DIR", returncode=4)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("FACEREC_DATA_DIR", str(folder))
    monkeypatch.setenv("FACEREC_BACKEND", "local")
    return folder


# Back ends: the same behaviour tests run on the local back end and on the AWS one
# (moto for S3 and DynamoDB, the local engine for Rekognition, which moto lacks).

BACKENDS = ["local", "aws"]


class NotifyingS3:
    """A boto3 S3 client whose puts under index/ invoke lambda.py, as the bucket notification does on AWS."""

    def __init__(self, client, deliver) -> None:
        self._client = client
        self._deliver = deliver

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def put_object(self, **params):
        response = self._client.put_object(**params)
        if params["Key"].startswith("index/"):
            self._deliver(params["Bucket"], params["Key"], response["ETag"])
        return response


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(settings, s3, rekognition, dynamodb) ready for the pipeline on each back end."""
    from facerec.settings import load

    env = {"FACEREC_BACKEND": request.param, "FACEREC_DATA_DIR": str(tmp_path / "data"), "AWS_REGION": "us-east-1"}
    settings = load(env_file=None, environ=env)
    if request.param == "local":
        from facerec.service import open_service

        service = open_service(settings)
        yield settings, service.s3, service.rekognition, service.dynamodb
        return
    yield from _aws_backend(settings, tmp_path, monkeypatch)


def _aws_backend(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import importlib

    import boto3
    from moto import mock_aws

    from facerec.local.events import s3_event
    from facerec.local.rekognition import LocalRekognition
    from facerec.service import table_definition

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    handler = importlib.import_module("lambda")
    with mock_aws():
        raw_s3 = boto3.client("s3", region_name="us-east-1")
        raw_s3.create_bucket(Bucket=settings.s3_bucket_name)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**table_definition(settings))
        rekognition = LocalRekognition(tmp_path / "rekognition", s3=raw_s3)
        rekognition.create_collection(CollectionId=settings.rekognition_collection_name)
        names = handler.Names(settings.dynamodb_table_name, settings.rekognition_collection_name)

        def deliver(bucket: str, key: str, etag: str) -> None:
            size = raw_s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
            event = s3_event("index-faces", "us-east-1", bucket, "ObjectCreated:Put", key, size, etag)
            handler.handle(event, handler.Clients(s3, rekognition, dynamodb), names)

        s3 = NotifyingS3(raw_s3, deliver)
        yield settings, s3, rekognition, dynamodb
