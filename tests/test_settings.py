"""Settings from the environment or .env: defaults, precedence, and a message naming a bad setting."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from facerec import templates
from facerec.settings import TABLE, Settings, SettingsError, load
from tests.conftest import FACES_DIR, ROOT


def test_defaults_need_nothing() -> None:
    settings = load(env_file=None, environ={})
    assert (settings.backend, settings.match_threshold, settings.camera) == ("local", 80.0, 0)
    assert settings.lambda_environment == {
        "DYNAMODB_TABLE_NAME": settings.dynamodb_table_name,
        "REKOGNITION_COLLECTION_NAME": settings.rekognition_collection_name,
    }


def test_values_are_read_and_typed() -> None:
    settings = load(
        env_file=None,
        environ={
            "FACEREC_BACKEND": "AWS",
            "FACEREC_MATCH_THRESHOLD": "92.5",
            "FACEREC_CAMERA": "2",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "S3_BUCKET_NAME": "my-faces",
        },
    )
    assert (settings.backend, settings.match_threshold, settings.camera) == ("aws", 92.5, 2)
    assert (settings.region, settings.s3_bucket_name) == ("eu-west-1", "my-faces")
    assert load(env_file=None, environ={"FACEREC_CAMERA": "rtsp://cam/1"}).camera == "rtsp://cam/1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FACEREC_BACKEND", "azure"),
        ("FACEREC_MATCH_THRESHOLD", "101"),
        ("FACEREC_MATCH_THRESHOLD", "high"),
        ("FACEREC_CAMERA", "-1"),
        ("S3_BUCKET_NAME", "Has_Capitals"),
        ("LAMBDA_NAME", "no spaces allowed"),
        ("AWS_REGION", "moon"),
    ],
)
def test_invalid_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(env_file=None, environ={name: value})


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("S3_BUCKET_NAME=from-dotenv\nLAMBDA_NAME=from-dotenv\n")
    env = {k: v for k, v in os.environ.items() if k not in {"S3_BUCKET_NAME", "LAMBDA_NAME"}}
    env |= {"LAMBDA_NAME": "from-environment", "PYTHONPATH": str(ROOT)}
    printed = subprocess.run(
        [sys.executable, str(ROOT / "config.py"), "--shell"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert printed.returncode == 0, printed.stderr
    assert "S3_BUCKET_NAME=from-dotenv" in printed.stdout
    assert "LAMBDA_NAME=from-environment" in printed.stdout


def test_env_file_leaves_the_process_environment_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("S3_BUCKET_NAME=from-dotenv\nFACEREC_CAMERA=3\nFACEREC_DESCRIPTOR=dlib\n")
    for name in ("S3_BUCKET_NAME", "FACEREC_CAMERA", "FACEREC_DESCRIPTOR"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    settings = load(tmp_path / ".env")
    assert (settings.s3_bucket_name, settings.camera, settings.descriptor) == ("from-dotenv", 3, "dlib")
    assert dict(os.environ) == before


@pytest.mark.parametrize(("name", "value"), [("FACEREC_DESCRIPTOR", "onnx"), ("FACEREC_DETECTOR", "gpu")])
def test_model_choices_are_checked(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}='{value}' is not valid: use one of fast, dlib"):
        load(env_file=None, environ={name: value})


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME is the Linux convention platformdirs follows")
def test_the_data_folder_is_the_platforms_and_the_models_are_in_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = load(env_file=None, environ={})
    assert settings.data_dir == tmp_path / "share" / "facerec"
    assert settings.models.folder == tmp_path / "cache" / "facerec" / "models"
    assert settings.server_credentials_file.parent == settings.data_dir
    moved = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "mine")})
    assert moved.models.folder == settings.models.folder, "a fresh data folder reuses the converted models"
    chosen = load(env_file=None, environ={"FACEREC_MODEL_DIR": str(tmp_path / "models")})
    assert chosen.models.folder == tmp_path / "models"


def test_what_is_printed_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    """config.py, the JSON templates and the Lambda function's environment all show Settings.as_environment()."""
    chosen = {
        "S3_BUCKET_NAME": "my-faces",
        "REKOGNITION_COLLECTION_NAME": "mine",
        "DYNAMODB_TABLE_NAME": "my-names",
        "IAM_ROLE_NAME": "my-role",
        "LAMBDA_NAME": "my-indexer",
        "AWS_REGION": "eu-west-1",
        "FACEREC_BACKEND": "aws",
        "FACEREC_DATA_DIR": str(tmp_path / "data"),
        "FACEREC_MATCH_THRESHOLD": "91.5",
        "FACEREC_CAMERA": "rtsp://cam/1",
        "FACEREC_DELIVERY": "adversarial",
        "FACEREC_DESCRIPTOR": "dlib",
        "FACEREC_DETECTOR": "dlib",
        "FACEREC_MODEL_DIR": str(tmp_path / "models"),
    }
    settings = load(env_file=None, environ=chosen)
    assert settings.as_environment() == chosen
    assert load(env_file=None, environ=settings.as_environment()) == settings
    # Every field has a name: a field left out of the table could be neither set nor printed.
    assert set(chosen) == {entry.name for entry in TABLE}
    assert {entry.field for entry in TABLE} == {f.name for f in fields(Settings)}
    assert settings.lambda_environment == {"DYNAMODB_TABLE_NAME": "my-names", "REKOGNITION_COLLECTION_NAME": "mine"}
    policy = json.dumps(templates.fill("rekognition-inline-policy.json", settings, "123456789012"))
    assert "eu-west-1" in policy and "123456789012" in policy


def test_every_setting_is_documented() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for entry in TABLE:
        assert re.search(rf"^#? ?{entry.name}=", example, re.MULTILINE), f"{entry.name} is not in .env.example"
        assert f"| `{entry.name}` |" in readme, f"{entry.name} is not in the README's table of settings"


def test_the_engine_keeps_its_models_in_the_model_folder(tmp_path: Path) -> None:
    from facerec.clients import client

    environ = {"FACEREC_DATA_DIR": str(tmp_path / "data"), "FACEREC_MODEL_DIR": str(tmp_path / "models")}
    rekognition = client("rekognition", load(env_file=None, environ=environ))
    found = rekognition.detect_faces(Image={"Bytes": (FACES_DIR / "people/joe_biden/biden1.jpg").read_bytes()})
    assert len(found["FaceDetails"]) == 1
    made = sorted(p.suffix for p in (tmp_path / "models").iterdir())
    assert made == [".json", ".npz", ".onnx", ".onnx", ".onnx"]  # digests; 68 points; ResNet, CNN, resize
    assert not (tmp_path / "data" / "models").exists()


def test_no_test_writes_into_the_users_data_folder(tmp_path: Path) -> None:
    """Tests that build an engine their own way, run with a fresh home: its data folder stays unmade."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACEREC_", "XDG_"))} | {"HOME": str(home)}
    env["FACEREC_FACES_DIR"] = str(FACES_DIR)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", *ENGINE_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not (home / ".local" / "share" / "facerec").exists()


# Tests that find faces through the engine's defaults, an engine of their own, and the server.
ENGINE_TESTS = (
    "tests/test_detector.py::test_a_photo_with_three_small_turned_faces_indexes_three",
    "tests/test_detector.py::test_small_sharp_faces_are_small_not_blurry",
    "tests/local/test_rekognition.py::test_detect_faces_reports_landmarks_inside_the_box",
)
