"""The IAM actions our code's boto3 calls need, read from the code itself.

As chalice's policy analyzer does for an app: every call `<...>.s3.head_object(...)`,
`<...>.rekognition.index_faces(...)`, `<...>.dynamodb.get_paginator("scan")` is an operation of that
service's botocore model, and each operation needs one or more IAM actions. moto does not enforce IAM,
so without this a new call passes every test and fails on AWS with AccessDenied.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import botocore.session
from botocore import xform_name

SERVICES = ("s3", "rekognition", "dynamodb")  # the attribute names our code keeps its clients under
# Operations whose IAM action is not the operation's own name (AWS's S3 policy actions reference).
ACTIONS_OF = {
    ("s3", "HeadObject"): {"s3:GetObject", "s3:ListBucket"},  # without ListBucket a missing key reads 403, not 404
    ("s3", "HeadBucket"): {"s3:ListBucket"},
    ("s3", "ListObjectsV2"): {"s3:ListBucket"},
    ("s3", "PutBucketNotificationConfiguration"): {"s3:PutBucketNotification"},
}


@lru_cache(maxsize=1)
def operations() -> dict[tuple[str, str], str]:
    """(service, python method name) -> the operation's name, for every operation of our services."""
    session = botocore.session.get_session()
    return {
        (service, xform_name(name)): name
        for service in SERVICES
        for name in session.get_service_model(service).operation_names
    }


def calls_in(path: Path, skip: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """(service, operation) of every client call in the file, outside the functions named in `skip`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef) and function.name in skip
        for node in ast.walk(function)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped or not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        service = _client_of(node.func.value)
        method = node.func.attr
        if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            method = node.args[0].value
        if service and (service, method) in operations():
            found.add((service, operations()[(service, method)]))
    return found


def actions_for(calls: set[tuple[str, str]]) -> set[str]:
    """The IAM actions those calls need."""
    return {action for call in calls for action in ACTIONS_OF.get(call, {f"{call[0]}:{call[1]}"})}


def _client_of(receiver: ast.expr) -> str | None:
    """The service whose client `receiver` is (`self.s3`, `clients.rekognition`, `s3`), if it is one."""
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", None)
    return name if name in SERVICES else None
