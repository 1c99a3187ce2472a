"""Settings from the environment or .env: defaults, precedence, and a message naming a bad setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facerec.settings import SettingsError, load
from tests.conftest import ROOT


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
