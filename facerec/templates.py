"""The JSON files at the repository root are templates with ${NAME} placeholders; fill them here."""

from __future__ import annotations

import json
import string
from pathlib import Path

from facerec.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ACCOUNT_ID = "000000000000"


def values(settings: Settings, account_id: str = LOCAL_ACCOUNT_ID) -> dict[str, str]:
    return {
        "AWS_REGION": settings.region,
        "AWS_ACCOUNT_ID": account_id,
        "S3_BUCKET_NAME": settings.s3_bucket_name,
        "REKOGNITION_COLLECTION_NAME": settings.rekognition_collection_name,
        "DYNAMODB_TABLE_NAME": settings.dynamodb_table_name,
        "IAM_ROLE_NAME": settings.iam_role_name,
        "LAMBDA_NAME": settings.lambda_name,
    }


def fill(name: str, settings: Settings, account_id: str = LOCAL_ACCOUNT_ID) -> dict:
    """The template `name` (a file at the repository root) with every placeholder filled."""
    text = (ROOT / name).read_text(encoding="utf-8")
    filled = string.Template(text).substitute(values(settings, account_id))
    return json.loads(filled)
