"""The project's settings, from the environment or `.env`: `python config.py` prints them.

The provisioning scripts read the names from here (`eval "$(python config.py --shell)"`).
"""

from __future__ import annotations

import shlex
import sys

from facerec.settings import Settings, SettingsError, load

__all__ = ["Settings", "SettingsError", "load"]


def main(argv: list[str]) -> int:
    try:
        settings = load()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    values = {
        "S3_BUCKET_NAME": settings.s3_bucket_name,
        "REKOGNITION_COLLECTION_NAME": settings.rekognition_collection_name,
        "DYNAMODB_TABLE_NAME": settings.dynamodb_table_name,
        "IAM_ROLE_NAME": settings.iam_role_name,
        "LAMBDA_NAME": settings.lambda_name,
        "AWS_REGION": settings.region,
        "FACEREC_BACKEND": settings.backend,
        "FACEREC_DATA_DIR": str(settings.data_dir),
        "FACEREC_MATCH_THRESHOLD": str(settings.match_threshold),
        "FACEREC_CAMERA": str(settings.camera),
        "FACEREC_DELIVERY": settings.delivery,
    }
    for name, value in values.items():
        print(f"{name}={shlex.quote(value)}" if "--shell" in argv else f"{name} = {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
