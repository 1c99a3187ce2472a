"""The JSON files at the repository root are templates with ${NAME} placeholders; fill them here."""

from __future__ import annotations

import json
import string
from pathlib import Path

from facerec.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ACCOUNT_ID = "000000000000"


def values(settings: Settings, account_id: str = LOCAL_ACCOUNT_ID) -> dict[str, str]:
    """The placeholders' values: every setting by name, and the account."""
    return {**settings.as_environment(), "AWS_ACCOUNT_ID": account_id}


def fill(name: str, settings: Settings, account_id: str = LOCAL_ACCOUNT_ID) -> dict:
    """The template `name` (a file at the repository root) with every placeholder filled."""
    text = (ROOT / name).read_text(encoding="utf-8")
    filled = string.Template(text).substitute(values(settings, account_id))
    return json.loads(filled)
