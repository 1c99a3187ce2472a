"""S3 event notifications: which functions an event goes to under a bucket's configuration, and its JSON.

The event is the JSON S3 sends to Lambda (event message structure 2.1); the
function is whatever the configuration's LambdaFunctionArn names. The local
bucket uses this to queue its notifications (delivered by facerec.local.delivery),
reindex to hand lambda.py an event, and the tests to play Lambda for moto's S3.
"""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import datetime, timezone
from typing import Any


def invocations(
    configuration: dict, region: str, bucket: str, event_name: str, key: str, size: int, etag: str
) -> list[tuple[str, dict]]:
    """(function name, event) for each configuration this event on this key falls under."""
    found = []
    for config in configuration.get("LambdaFunctionConfigurations", []):
        if matches(config, event_name, key):
            event = s3_event(config.get("Id", ""), region, bucket, event_name, key, size, etag)
            found.append((function_name(config), event))
    return found


def function_name(config: dict) -> str:
    return config["LambdaFunctionArn"].rsplit(":", 1)[-1]


def matches(config: dict, event_name: str, key: str) -> bool:
    """Does an event of this name on this key fall under the configuration's events and filters?"""
    wanted = config.get("Events", [])
    full = "s3:" + event_name
    if not any(full == w or (w.endswith(":*") and full.startswith(w[:-1])) for w in wanted):
        return False
    for rule in config.get("Filter", {}).get("Key", {}).get("FilterRules", []):
        kind, value = rule["Name"].lower(), rule["Value"]
        if kind == "prefix" and not key.startswith(value):
            return False
        if kind == "suffix" and not key.endswith(value):
            return False
    return True


def s3_event(configuration_id: str, region: str, bucket: str, event_name: str, key: str, size: int, etag: str) -> dict:
    """The event S3 sends, with the key URL-encoded as S3 encodes it (spaces as '+')."""
    obj: dict[str, Any] = {"key": encode_key(key), "sequencer": f"{uuid.uuid4().int % 16**18:018X}"}
    if event_name.startswith("ObjectCreated"):
        obj.update({"size": size, "eTag": etag.strip('"')})
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "local"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def encode_key(key: str) -> str:
    return urllib.parse.quote_plus(key, safe="/")
