"""Settings from the environment or a `.env` file, checked once at start.

Every setting the app reads is here, with its default and its rule; an invalid
value raises SettingsError with a message that names the setting. This is the one
module of the package that reads the process environment: everything else is handed
a Settings (or a part of one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from platformdirs import user_cache_dir, user_data_dir

APP_NAME = "facerec"
BACKENDS = ("local", "aws")
# How the local bucket delivers events: as S3 usually does, or with a delay and every event twice at once.
DELIVERIES = ("normal", "adversarial")
# Which network runs a face model: dlib's, converted to onnxruntime (faster, same numbers), or dlib's own.
ENGINES = ("fast", "dlib")
# AWS's own naming rules, so a bad name fails here and not halfway through provisioning.
NAME_RULES = {
    "S3_BUCKET_NAME": (r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", "3-63 lowercase letters, digits, dots and hyphens"),
    "REKOGNITION_COLLECTION_NAME": (r"[a-zA-Z0-9_.\-]{1,255}", "letters, digits, '_', '.' and '-'"),
    "DYNAMODB_TABLE_NAME": (r"[a-zA-Z0-9_.\-]{3,255}", "3-255 letters, digits, '_', '.' and '-'"),
    "IAM_ROLE_NAME": (r"[\w+=,.@\-]{1,64}", "1-64 letters, digits and '+=,.@_-'"),
    "LAMBDA_NAME": (r"[a-zA-Z0-9_\-]{1,64}", "1-64 letters, digits, '_' and '-'"),
    "AWS_REGION": (r"[a-z]{2}(-[a-z]+)+-\d", "a region name such as eu-west-1"),
}
# The names lambda.py reads from its environment.
LAMBDA_NAMES = ("DYNAMODB_TABLE_NAME", "REKOGNITION_COLLECTION_NAME")


class SettingsError(ValueError):
    """A setting has a value the app cannot use."""


def default_data_dir() -> Path:
    """The platform's user data folder for the app (~/.local/share/facerec on Linux)."""
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_model_dir() -> Path:
    """Where converted face models are kept: the platform's user cache folder (~/.cache/facerec/models on
    Linux). They are a cache, keyed by the model file's hash, that every data folder shares."""
    return Path(user_cache_dir(APP_NAME, appauthor=False)) / "models"


@dataclass(frozen=True)
class ModelSettings:
    """Which face models the local engine runs, and the folder their converted copies are kept in."""

    folder: Path
    descriptor: str = "fast"
    detector: str = "fast"


@dataclass(frozen=True)
class Settings:
    s3_bucket_name: str = "facerec-images"
    rekognition_collection_name: str = "facerec"
    dynamodb_table_name: str = "facerec-faces"
    iam_role_name: str = "facerec-lambda"
    lambda_name: str = "facerec-index-faces"
    region: str = "us-east-1"
    backend: str = "local"
    # A factory, so the platform's folder is looked up when settings are made, not when this is imported.
    data_dir: Path = field(default_factory=default_data_dir)
    match_threshold: float = 80.0
    camera: int | str = 0
    delivery: str = "normal"
    descriptor: str = "fast"
    detector: str = "fast"
    model_dir: Path = field(default_factory=default_model_dir)

    @property
    def models(self) -> ModelSettings:
        """What the local engine loads its face models with."""
        return ModelSettings(self.model_dir, self.descriptor, self.detector)

    @property
    def server_credentials_file(self) -> Path:
        """The key pairs `facerec serve` accepts besides the environment's (AWS's credentials-file format)."""
        return self.data_dir / "server-credentials"

    def as_environment(self) -> dict[str, str]:
        """Every setting by its name, as text: what `.env` or the environment would hold to give these settings."""
        return {entry.name: entry.text(self) for entry in TABLE}

    @property
    def lambda_environment(self) -> dict[str, str]:
        """The environment lambda.py reads its names from."""
        environment = self.as_environment()
        return {name: environment[name] for name in LAMBDA_NAMES}


@dataclass(frozen=True)
class Setting:
    """One setting: its name in the environment, the Settings field it fills, and how its text is read."""

    name: str
    field: str
    parse: Callable[[str, str], object]  # (name, text) -> value, or SettingsError naming the setting
    aliases: tuple[str, ...] = ()  # other names read when `name` is not set
    show: Callable[[Settings], object] | None = None  # the value printed, when it is not the field's

    def text(self, settings: Settings) -> str:
        return str(self.show(settings) if self.show else getattr(settings, self.field))

    def read(self, environ: Mapping[str, str]) -> str:
        """The setting's text in `environ` ("" when unset or blank)."""
        for name in (self.name, *self.aliases):
            value = (environ.get(name) or "").strip()
            if value:
                return value
        return ""


def _named(name: str, value: str) -> str:
    pattern, rule = NAME_RULES[name]
    if not re.fullmatch(pattern, value):
        raise SettingsError(f"{name}={value!r} is not valid: use {rule}")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        if value.lower() not in choices:
            raise SettingsError(f"{name}={value!r} is not valid: use one of {', '.join(choices)}")
        return value.lower()

    return parse


def _folder(name: str, value: str) -> Path:
    return Path(value).expanduser()


def _threshold(name: str, value: str) -> float:
    try:
        threshold = float(value)
    except ValueError:
        threshold = -1.0
    if not 0.0 <= threshold <= 100.0:
        raise SettingsError(f"{name}={value!r} is not valid: use a number from 0 to 100")
    return threshold


def _camera(name: str, value: str) -> int | str:
    """A device index, or a video file or stream URL, kept as given.

    A file that does not exist is not an error here: the app still starts, says
    there is no camera and offers to open images instead.
    """
    if value.isdigit():
        return int(value)
    if value.lstrip("-").isdigit():
        raise SettingsError(f"{name}={value!r} is not valid: a device index is 0 or more")
    return str(Path(value).expanduser()) if "://" not in value else value


# The one table of setting names: load() reads by it, and config.py, the JSON templates and the
# Lambda function's environment all take their values from Settings.as_environment(), built from it.
TABLE = (
    Setting("S3_BUCKET_NAME", "s3_bucket_name", _named),
    Setting("REKOGNITION_COLLECTION_NAME", "rekognition_collection_name", _named),
    Setting("DYNAMODB_TABLE_NAME", "dynamodb_table_name", _named),
    Setting("IAM_ROLE_NAME", "iam_role_name", _named),
    Setting("LAMBDA_NAME", "lambda_name", _named),
    Setting("AWS_REGION", "region", _named, aliases=("AWS_DEFAULT_REGION",)),
    Setting("FACEREC_BACKEND", "backend", _one_of(BACKENDS)),
    Setting("FACEREC_DATA_DIR", "data_dir", _folder),
    Setting("FACEREC_MATCH_THRESHOLD", "match_threshold", _threshold),
    Setting("FACEREC_CAMERA", "camera", _camera),
    Setting("FACEREC_DELIVERY", "delivery", _one_of(DELIVERIES)),
    Setting("FACEREC_DESCRIPTOR", "descriptor", _one_of(ENGINES)),
    Setting("FACEREC_DETECTOR", "detector", _one_of(ENGINES)),
    Setting("FACEREC_MODEL_DIR", "model_dir", _folder),
)


def load(env_file: str | os.PathLike | None = ".env", environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `environ`, or else from the process environment over `env_file` (if it exists).

    The file is only read: the process environment is left as it is, and wins over the file.
    """
    if environ is None:
        environ = {**env_file_values(env_file), **os.environ}
    return Settings(**{entry.field: entry.parse(entry.name, text) for entry in TABLE if (text := entry.read(environ))})


def env_file_values(env_file: str | os.PathLike | None) -> dict[str, str]:
    """The settings a `.env` file holds ({} without one); names without a value are left out."""
    if not env_file or not Path(env_file).is_file():
        return {}
    return {name: value for name, value in dotenv_values(env_file).items() if value is not None}
