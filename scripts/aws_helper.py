"""The provisioning scripts' Python half: render the templates, build lambda.zip, compare what AWS has.

The shell scripts drive the AWS CLI; everything they would otherwise do with
JSON in bash lives here, so that the names, the table definition and the
template filling come from the same code the app uses (facerec.settings,
facerec.service.table_definition, facerec.templates.fill).

    python3 scripts/aws_helper.py render DIR ACCOUNT_ID      # DIR/*.json, ready for --cli-input-json / file://
    python3 scripts/aws_helper.py build-lambda [ZIP]         # writes lambda.zip, prints its CodeSha256
    python3 scripts/aws_helper.py same-policy FILE           # stdin: a policy document; exit 0 if equal
    python3 scripts/aws_helper.py same-notification FILE     # stdin: get-bucket-notification-configuration
    python3 scripts/aws_helper.py lambda-diff FILE ROLE SHA  # stdin: get-function-configuration; prints changes
    python3 scripts/aws_helper.py permission SID ARN ACCOUNT # stdin: lambda get-policy; same|different|missing
    python3 scripts/aws_helper.py get KEY                    # stdin: a JSON object; prints one member
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import tempfile
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the package lives beside scripts/
    sys.path.insert(0, str(ROOT))

# The deployment package: the handler and the one module of the app it imports, the table's records.
# facerec/ has no __init__.py there, so it is a namespace package and nothing else of the app is needed.
# Its directory entry is listed because zipimport (a zip on sys.path, as the tests run it) finds a
# namespace package only by one; Lambda unpacks the zip, so either way works there.
LAMBDA_FILES = ("lambda.py", "facerec/", "facerec/records.py")
LAMBDA_ZIP = ROOT / "lambda.zip"
# A fixed timestamp and mode, and no compression, make the zip byte-identical on every
# machine: its sha256 then changes only when those files do, which is what lets a
# second provision see that the deployed code is current.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_MODE = 0o100644
ZIP_DIR_MODE = 0o040755

# The function's settings (the names come from config.py, these do not vary).
LAMBDA_RUNTIME = "python3.12"
LAMBDA_HANDLER = "lambda.lambda_handler"
LAMBDA_TIMEOUT = 60
LAMBDA_MEMORY = 512
LAMBDA_DESCRIPTION = "facerec: S3 uploads under index/ -> Rekognition IndexFaces -> DynamoDB"

TEMPLATES = {
    "trust-policy.json": "lambda-trust-policy.json",
    "inline-policy.json": "rekognition-inline-policy.json",
    "notification.json": "s3_notification_configuration.json",
    "app-user-policy.json": "policies/app-user-policy.json",
}


def build_lambda(path: Path = LAMBDA_ZIP) -> str:
    """Write the deployment package (LAMBDA_FILES) to `path`; return its CodeSha256 as Lambda reports it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so a reader never sees half a zip.
    fd, tmp = tempfile.mkstemp(prefix=".lambda-", suffix=".zip", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w") as archive:
            for name in LAMBDA_FILES:
                archive.writestr(_zip_entry(name), b"" if name.endswith("/") else (ROOT / name).read_bytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return code_sha256(path.read_bytes())


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.external_attr = (ZIP_DIR_MODE if name.endswith("/") else ZIP_MODE) << 16
    info.create_system = 3  # Unix, so the mode above is read; the default depends on the OS
    info.compress_type = zipfile.ZIP_STORED
    return info


def code_sha256(data: bytes) -> str:
    """Lambda's CodeSha256: the base64 of the package's SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def function_settings(settings: Any) -> dict:
    """What create-function and update-function-configuration take, less Role and the code."""
    return {
        "FunctionName": settings.lambda_name,
        "Runtime": LAMBDA_RUNTIME,
        "Handler": LAMBDA_HANDLER,
        "Timeout": LAMBDA_TIMEOUT,
        "MemorySize": LAMBDA_MEMORY,
        "Description": LAMBDA_DESCRIPTION,
        "Environment": {"Variables": dict(settings.lambda_environment)},
    }


def render(folder: Path, account_id: str, settings: Any = None) -> list[Path]:
    """Every document provisioning sends, filled for this account and these settings, as files in `folder`."""
    from facerec.service import table_definition
    from facerec.settings import load
    from facerec.templates import fill

    settings = settings or load()
    documents = {out: fill(template, settings, account_id) for out, template in TEMPLATES.items()}
    documents["table.json"] = table_definition(settings)
    documents["function.json"] = function_settings(settings)
    written = []
    for name, document in documents.items():
        path = folder / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def normalise_policy(document: Any) -> Any:
    """A policy document in one canonical form: IAM may return it URL-encoded, as a string, or with
    single-item lists collapsed to strings; none of that is a difference."""
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else urllib.parse.unquote(document)
        document = json.loads(text)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    canonical = []
    for statement in statements:
        entry = dict(statement)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in entry:
                value = entry[key]
                entry[key] = sorted([value] if isinstance(value, str) else value)
        if "Condition" in entry:
            entry["Condition"] = _sorted_values(entry["Condition"])
        canonical.append(entry)
    return {"Version": document.get("Version"), "Statement": sorted(canonical, key=_key)}


def normalise_notification(document: dict) -> dict:
    """A notification configuration in canonical form: S3 answers filter rule names as 'Prefix'
    for a 'prefix' sent, and in any order; empty lists and metadata are no difference."""
    canonical: dict = {}
    for kind, configurations in document.items():
        if kind == "ResponseMetadata" or not configurations:
            continue
        if not isinstance(configurations, list):
            canonical[kind] = configurations
            continue
        entries = []
        for configuration in configurations:
            entry = dict(configuration)
            entry["Events"] = sorted(entry.get("Events", []))
            rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            if rules:
                entry["Filter"] = {
                    "Key": {
                        "FilterRules": sorted(
                            ({"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules), key=_key
                        )
                    }
                }
            entries.append(entry)
        canonical[kind] = sorted(entries, key=_key)
    return canonical


def lambda_changes(current: dict, wanted: dict, role_arn: str, sha: str) -> list[str]:
    """What differs between the deployed function and the wanted one: 'code' and/or 'config: ...' lines."""
    changes = []
    if current.get("CodeSha256") != sha:
        changes.append("code")
    expected = {**{k: v for k, v in wanted.items() if k != "FunctionName"}, "Role": role_arn}
    have = {key: current.get(key) for key in expected}
    have["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables") or {}}
    differing = [key for key in expected if have[key] != expected[key]]
    if differing:
        changes.append("config: " + ", ".join(differing))
    return changes


def permission_state(policy_response: dict, sid: str, source_arn: str, account_id: str) -> str:
    """Whether the function's resource policy lets S3 invoke it for this bucket and account only
    (account "-": any account, for a check that does not know it)."""
    policy = policy_response.get("Policy") or {}
    if isinstance(policy, str):
        policy = json.loads(policy)
    for statement in policy.get("Statement", []):
        if statement.get("Sid") != sid:
            continue
        conditions = {
            name.lower(): value
            for operator in (statement.get("Condition") or {}).values()
            for name, value in operator.items()
        }
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        action = statement.get("Action")
        ok = (
            service == "s3.amazonaws.com"
            and action in ("lambda:InvokeFunction", ["lambda:InvokeFunction"])
            and conditions.get("aws:sourcearn") == source_arn
            and (account_id == "-" or conditions.get("aws:sourceaccount") == account_id)
        )
        return "same" if ok else "different"
    return "missing"


def _sorted_values(condition: dict) -> dict:
    return {
        operator: {k: sorted(v) if isinstance(v, list) else v for k, v in pairs.items()}
        for operator, pairs in condition.items()
    }


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _read_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _stdin_json() -> Any:
    text = sys.stdin.read().strip()
    return json.loads(text) if text else {}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    if command == "render" and len(args) == 2:
        render(Path(args[0]), args[1])
        return 0
    if command == "build-lambda" and len(args) <= 1:
        print(build_lambda(Path(args[0]) if args else LAMBDA_ZIP))
        return 0
    if command == "same-policy" and len(args) == 1:
        same = normalise_policy(_stdin_json()) == normalise_policy(_read_json(args[0]))
        return 0 if same else 1
    if command == "same-notification" and len(args) == 1:
        same = normalise_notification(_stdin_json()) == normalise_notification(_read_json(args[0]))
        return 0 if same else 1
    if command == "lambda-diff" and len(args) == 3:
        for line in lambda_changes(_stdin_json(), _read_json(args[0]), args[1], args[2]):
            print(line)
        return 0
    if command == "get" and len(args) == 1:
        value = _stdin_json().get(args[0])
        print(value if isinstance(value, str) else json.dumps(value))
        return 0
    if command == "permission" and len(args) == 3:
        print(permission_state(_stdin_json(), *args))
        return 0
    print(f"aws_helper.py: bad arguments: {' '.join(argv)}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
