"""Shared fixtures: the test photographs and clients on a fresh data folder."""

from __future__ import annotations

import io
import os
import pickle
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session", autouse=True)
def faces_available() -> None:
    if not (FACES_DIR / "people").is_dir():
        pytest.exit(f"test photographs not found at {FACES_DIR}; set FACEREC_FACES_DIR", returncode=4)


@pytest.fixture(scope="session", autouse=True)
def model_dir() -> Iterator[Path]:
    """The folder of the converted face models for the whole run: the user's cache folder, as set-up made it.

    They are a cache keyed by each model file's hash, which every data folder shares, so the run converts
    nothing that set-up converted (tests of the conversion convert into folders of their own). Set as
    FACEREC_MODEL_DIR, so the processes the tests start use it too.
    """
    from facerec.settings import load

    folder = load(env_file=None).model_dir
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEREC_MODEL_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def face_models(model_dir: Path):
    """The models of the run's settings (FACEREC_DESCRIPTOR, FACEREC_DETECTOR), for engines the tests build."""
    from facerec.settings import load

    return load(env_file=None).models


@pytest.fixture(scope="session")
def engine_models(face_models):
    """The models of `face_models` for the whole run, loaded when first called (a worker process that only
    reads the detections another computed loads none): what an engine the tests build is given."""
    from facerec import faces as facelib

    return facelib.LazyModels(face_models)


@pytest.fixture(scope="session")
def loaded_models(engine_models):
    """The run's models, loaded."""
    return engine_models()


@pytest.fixture(scope="session", autouse=True)
def back_ends_share_the_runs_models(face_models, engine_models) -> Iterator[None]:
    """Every local back end opened in the tests' processes on the run's choice of models (by a service, the
    CLI, the app, the server) is given the run's models, loaded once: not one load per back end."""
    from facerec import clients

    opened = clients.local_backend

    def sharing(settings, models=None):
        if models is None and settings.models == face_models:
            models = engine_models()
        return opened(settings, models)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clients, "local_backend", sharing)
        yield


@dataclass(frozen=True)
class FoundFace:
    photo: str  # relative to FACES_DIR
    pixels: Any  # the decoded photo, RGB uint8
    box: tuple[int, int, int, int]  # the detector's rectangle: left, top, right, bottom (inclusive)

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0] + 1) * (self.box[3] - self.box[1] + 1)


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, compute: Callable[[], Any]) -> Any:
    """compute()'s value, computed by the first of the run's worker processes (pytest-xdist) that asks and
    read by the others from a file beside their temporary folders: a session fixture costs its time once."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return compute()
    from filelock import FileLock

    path = tmp_path_factory.getbasetemp().parent / f"{name}.pickle"
    with FileLock(f"{path}.lock"):
        if not path.is_file():
            path.write_bytes(pickle.dumps(compute()))
        return pickle.loads(path.read_bytes())


@pytest.fixture(scope="session")
def found_faces(engine_models, tmp_path_factory: pytest.TempPathFactory) -> list[FoundFace]:
    """Every face the engine's detector finds in the test photos: detected once for the run's tests
    of the models that work from the detector's boxes."""
    from facerec import detector_choice
    from facerec import faces as facelib

    pixels = cache(lambda relative: facelib.decode(photo(relative)).pixels)

    def detect_every_photo() -> list[tuple[str, tuple[int, int, int, int]]]:
        engine, boxes = engine_models(), []
        for relative in photo_paths():
            found = detector_choice.detect(engine, pixels(relative))
            boxes += [(relative, (r.left(), r.top(), r.right(), r.bottom())) for r, _ in found]
        return boxes

    return [
        FoundFace(relative, pixels(relative), box)
        for relative, box in once_per_run(tmp_path_factory, "found_faces", detect_every_photo)
    ]


def photo_paths() -> list[str]:
    """Every photo of FACES_DIR, relative to it."""
    photos = (p for p in FACES_DIR.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return sorted(str(path.relative_to(FACES_DIR)) for path in photos)


@pytest.fixture(scope="session")
def descriptors(engine_models, found_faces, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The descriptor of the largest face of every test photo, by path relative to FACES_DIR: described
    once for the run from its detections, as find_faces describes them."""
    from facerec import descriptor
    from facerec import faces as facelib

    def describe_largest_faces() -> dict[str, Any]:
        engine, largest = engine_models(), {}
        for face in found_faces:
            if face.photo not in largest or face.area > largest[face.photo].area:
                largest[face.photo] = face
        described = {}
        for relative, face in largest.items():
            with engine.lock:
                shape = engine.predictor(face.pixels, engine.dlib.rectangle(*face.box))
                chip = engine.dlib.get_face_chip(face.pixels, shape, descriptor.CHIP_SIZE, facelib.CHIP_PADDING)
            described[relative] = facelib.describe_chips([chip], engine)[0]
        return described

    return once_per_run(tmp_path_factory, "descriptors", describe_largest_faces)


# Photos of people/ shrunk to this many pixels: still over 640x480's count, so still the photo (CNN) path,
# but found in a fraction of the time. For tests of the pipeline around the engine (service, CLI, app).
SMALL_PHOTO_PIXELS = 500_000


@cache
def small_photo(relative: str) -> bytes:
    """A photo of FACES_DIR shrunk to SMALL_PHOTO_PIXELS, upright as its EXIF said, as a JPEG."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(Image.open(FACES_DIR / relative)).convert("RGB")
    scale = min(1.0, (SMALL_PHOTO_PIXELS / (image.width * image.height)) ** 0.5)
    return jpeg(image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS), 92)


@pytest.fixture(scope="session")
def small_faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as FACES_DIR, whose people/ photos are small_photo()'s and whose other folders
    are the originals."""
    folder = tmp_path_factory.mktemp("small-faces")
    for name in ("groups", "edge"):
        (folder / name).symlink_to(FACES_DIR / name)
    for person, paths in people().items():
        (folder / "people" / person).mkdir(parents=True)
        for path in paths:
            relative = str(path.relative_to(FACES_DIR))
            (folder / "people" / person / path.with_suffix(".jpg").name).write_bytes(small_photo(relative))
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("FACEREC_DATA_DIR", str(folder))
    monkeypatch.setenv("FACEREC_BACKEND", "local")
    return folder


# Back ends: the same behaviour tests run on the local back end and on the AWS one, both
# delivering S3 events as AWS may: after PutObject has returned, after a delay, twice at once.
# AWS: moto's server for S3 and DynamoDB, `python -m facerec serve` for Rekognition (moto has
# none), boto3 clients on both, and tests.lambda_service playing Lambda in separate processes.

BACKENDS = ["local", "aws"]
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Backend:
    settings: Any
    s3: Any
    rekognition: Any
    dynamodb: Any
    idle: Callable[[], bool]  # waits until every delivery of every event has run


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def rekognition_endpoint(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local engine as a Rekognition endpoint, reading S3Object images from moto's S3."""
    from tests.test_server import running_server, server_env

    folder = tmp_path_factory.mktemp("rekognition")
    env = server_env(folder / "data", FACEREC_BACKEND="aws", **aws_env(moto_endpoint, ""))
    with running_server(env, folder / "server.log") as url:
        yield url


def aws_env(moto: str, rekognition: str) -> dict[str, str]:
    """Fake credentials, no user configuration, S3 and DynamoDB at moto, Rekognition at our server."""
    env = {**FAKE_AWS, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env.update({"AWS_ENDPOINT_URL_S3": moto, "AWS_ENDPOINT_URL_DYNAMODB": moto})
    if rekognition:
        env["AWS_ENDPOINT_URL_REKOGNITION"] = rekognition
    return env


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, face_models) -> Iterator[Backend]:
    """Clients ready for the pipeline on each back end, with asynchronous, twice-delivered events."""
    from facerec.service import open_service
    from facerec.settings import load

    env = {
        "FACEREC_BACKEND": request.param,
        "FACEREC_DATA_DIR": str(tmp_path / "data"),
        "FACEREC_MODEL_DIR": str(face_models.folder),
        "FACEREC_DESCRIPTOR": face_models.descriptor,
        "FACEREC_DETECTOR": face_models.detector,
        "FACEREC_DELIVERY": "adversarial",
        "AWS_REGION": "us-east-1",
    }
    if request.param == "local":
        service = open_service(load(env_file=None, environ=env))
        idle = service.s3.courier.idle
        yield Backend(service.settings, service.s3, service.rekognition, service.dynamodb, idle)
        idle()
        service.close()
        return
    yield from _aws_backend(request, env, tmp_path)


@pytest.fixture
def service(backend: Backend, engine_models):
    """The app's service over each back end's clients."""
    from facerec.service import FaceService

    return FaceService(backend.settings, backend.s3, backend.rekognition, backend.dynamodb, engine_models)


def _aws_backend(request: pytest.FixtureRequest, env: dict, tmp_path: Path) -> Iterator[Backend]:
    import boto3

    from facerec.service import ensure_resources
    from facerec.settings import load
    from tests.lambda_service import LambdaService

    moto = request.getfixturevalue("moto_endpoint")
    rekognition_url = request.getfixturevalue("rekognition_endpoint")
    unique = f"t{uuid.uuid4().hex[:12]}"
    names = {"S3_BUCKET_NAME": unique, "DYNAMODB_TABLE_NAME": unique, "REKOGNITION_COLLECTION_NAME": unique}
    settings = load(env_file=None, environ={**env, **names})
    client_env = aws_env(moto, rekognition_url)
    monkeypatch = request.getfixturevalue("monkeypatch")
    for name, value in client_env.items():
        monkeypatch.setenv(name, value)
    s3, rekognition, dynamodb = (
        boto3.client(name, region_name=settings.region) for name in ("s3", "rekognition", "dynamodb")
    )
    ensure_resources(settings, s3, rekognition, dynamodb)
    function_env = {**_base_env(), **client_env, **settings.lambda_environment}
    with LambdaService(
        s3, settings.s3_bucket_name, settings.region, function_env, ROOT, settings.lambda_name
    ) as aws_lambda:
        yield Backend(settings, s3, rekognition, dynamodb, aws_lambda.idle)


def _base_env() -> dict[str, str]:
    """What a process needs to start, without the user's AWS or app settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FACEREC_"))}
