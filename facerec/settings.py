"""Settings from the environment or a `.env` file, checked once at start.

Every setting the app reads is here, with its default and its rule; an invalid
value raises SettingsError with a message that names the setting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from facerec.paths import default_data_dir

BACKENDS = ("local", "aws")
# How the local bucket delivers events: as S3 usually does, or with a delay and every event twice at once.
DELIVERIES = ("normal", "adversarial")
# AWS's own naming rules, so a bad name fails here and not halfway through provisioning.
NAME_RULES = {
    "S3_BUCKET_NAME": (r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", "3-63 lowercase letters, digits, dots and hyphens"),
    "REKOGNITION_COLLECTION_NAME": (r"[a-zA-Z0-9_.\-]{1,255}", "letters, digits, '_', '.' and '-'"),
    "DYNAMODB_TABLE_NAME": (r"[a-zA-Z0-9_.\-]{3,255}", "3-255 letters, digits, '_', '.' and '-'"),
    "IAM_ROLE_NAME": (r"[\w+=,.@\-]{1,64}", "1-64 letters, digits and '+=,.@_-'"),
    "LAMBDA_NAME": (r"[a-zA-Z0-9_\-]{1,64}", "1-64 letters, digits, '_' and '-'"),
    "AWS_REGION": (r"[a-z]{2}(-[a-z]+)+-\d", "a region name such as eu-west-1"),
}


class SettingsError(ValueError):
    """A setting has a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    s3_bucket_name: str = "facerec-images"
    rekognition_collection_name: str = "facerec"
    dynamodb_table_name: str = "facerec-faces"
    iam_role_name: str = "facerec-lambda"
    lambda_name: str = "facerec-index-faces"
    region: str = "us-east-1"
    backend: str = "local"
    data_dir: Path = default_data_dir()
    match_threshold: float = 80.0
    camera: int | str = 0
    delivery: str = "normal"

    @property
    def server_credentials_file(self) -> Path:
        """The key pairs `facerec serve` accepts besides the environment's (AWS's credentials-file format)."""
        return self.data_dir / "server-credentials"

    @property
    def lambda_environment(self) -> dict[str, str]:
        """The environment lambda.py reads its names from."""
        return {
            "DYNAMODB_TABLE_NAME": self.dynamodb_table_name,
            "REKOGNITION_COLLECTION_NAME": self.rekognition_collection_name,
        }


def load(env_file: str | os.PathLike | None = ".env", environ: dict[str, str] | None = None) -> Settings:
    """Settings from `environ` (default os.environ), after loading `env_file` if it exists."""
    if environ is None:
        if env_file and Path(env_file).is_file():
            load_dotenv(env_file, override=False)
        environ = dict(os.environ)
    defaults = Settings()

    def get(name: str, default: object) -> str:
        value = environ.get(name, "").strip()
        return value if value else str(default)

    names = {name: get(name, getattr(defaults, _field(name))) for name in NAME_RULES if name != "AWS_REGION"}
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or defaults.region
    for name, value in {**names, "AWS_REGION": region}.items():
        pattern, rule = NAME_RULES[name]
        if not re.fullmatch(pattern, value):
            raise SettingsError(f"{name}={value!r} is not valid: use {rule}")
    return Settings(
        **{_field(name): value for name, value in names.items()},
        region=region,
        backend=_backend(get("FACEREC_BACKEND", defaults.backend)),
        data_dir=Path(get("FACEREC_DATA_DIR", defaults.data_dir)).expanduser(),
        match_threshold=_threshold(get("FACEREC_MATCH_THRESHOLD", defaults.match_threshold)),
        camera=_camera(get("FACEREC_CAMERA", defaults.camera)),
        delivery=_choice("FACEREC_DELIVERY", get("FACEREC_DELIVERY", defaults.delivery), DELIVERIES),
    )


def _field(name: str) -> str:
    return name.lower()


def _backend(value: str) -> str:
    return _choice("FACEREC_BACKEND", value, BACKENDS)


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value.lower() not in choices:
        raise SettingsError(f"{name}={value!r} is not valid: use one of {', '.join(choices)}")
    return value.lower()


def _threshold(value: str) -> float:
    try:
        threshold = float(value)
    except ValueError:
        threshold = -1.0
    if not 0.0 <= threshold <= 100.0:
        raise SettingsError(f"FACEREC_MATCH_THRESHOLD={value!r} is not valid: use a number from 0 to 100")
    return threshold


def _camera(value: str) -> int | str:
    """A device index, or a video file or stream URL, kept as given.

    A file that does not exist is not an error here: the app still starts, says
    there is no camera and offers to open images instead.
    """
    if value.isdigit():
        return int(value)
    if value.lstrip("-").isdigit():
        raise SettingsError(f"FACEREC_CAMERA={value!r} is not valid: a device index is 0 or more")
    return str(Path(value).expanduser()) if "://" not in value else value
