"""The indexing Lambda: S3 ObjectCreated under index/ -> Rekognition IndexFaces -> DynamoDB.

Deployable alone: standard library and boto3 only, names from the environment
(DYNAMODB_TABLE_NAME, REKOGNITION_COLLECTION_NAME). `handle` takes its clients
and names as arguments, so the local back end and the tests run this same code.

For each image the table gets one item per indexed face and one image item:

    {"RekognitionId": <FaceId>, "ItemType": "face", "FullName", "ImageKey", "IndexedAt"}
    {"RekognitionId": "image#<key>", "ItemType": "image", "FullName", "ImageKey", "ETag",
     "ExternalImageId", "Status", "Message", "FaceIds", "IndexedAt"}

The order of writes keeps every face accounted for, whenever the process dies:
the image item is written first with Status "pending" and the ExternalImageId
its faces will carry; then IndexFaces; then the face items; then the image
item's final Status (indexed, no_face, several_faces or invalid_image). A
pending item found later means an attempt died midway: its faces are removed
and the image is indexed again. A final item with the same ETag makes a second
delivery of the same event a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger("facerec.lambda")
log.setLevel(logging.INFO)

NAME_METADATA = "fullname"  # x-amz-meta-fullname: the name, percent-encoded UTF-8
OUTCOME_PREFIX = "image#"
FINAL_STATUSES = {"indexed", "no_face", "several_faces", "invalid_image"}
# Errors that say "this image", not "try again": recorded, never retried.
IMAGE_ERRORS = {
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidParameterException",
    "InvalidS3ObjectException",
}
MISSING_OBJECT = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class Names:
    table: str
    collection: str

    @classmethod
    def from_env(cls) -> Names:
        return cls(os.environ["DYNAMODB_TABLE_NAME"], os.environ["REKOGNITION_COLLECTION_NAME"])


@dataclass(frozen=True)
class Clients:
    s3: Any
    rekognition: Any
    dynamodb: Any

    @classmethod
    def from_boto3(cls) -> Clients:
        return cls(boto3.client("s3"), boto3.client("rekognition"), boto3.client("dynamodb"))


class TransientErrors(Exception):
    """Raised after every record was tried, so that Lambda retries the event."""


def lambda_handler(event: dict, context: Any) -> dict:
    return handle(event, Clients.from_boto3(), Names.from_env())


def handle(event: dict, clients: Clients, names: Names) -> dict:
    """Index every record's image; raise TransientErrors at the end if any record should be retried."""
    results, transient = [], []
    for record in event.get("Records", []):
        try:
            results.append(handle_record(record, clients, names))
        except ClientError as exc:
            log.warning("will retry %s: %s", _record_key(record), exc)
            transient.append(f"{_record_key(record)}: {exc}")
        except Exception as exc:  # one bad record never stops the others
            log.exception("record failed: %s", _record_key(record))
            results.append({"key": _record_key(record), "status": "error", "message": str(exc)})
    log.info(json.dumps(results, ensure_ascii=False))
    if transient:
        raise TransientErrors("; ".join(transient))
    return {"results": results}


def handle_record(record: dict, clients: Clients, names: Names) -> dict:
    bucket = record["s3"]["bucket"]["name"]
    key = object_key(record)
    try:
        head = clients.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in MISSING_OBJECT:
            return {"key": key, "status": "gone"}
        raise
    etag = head.get("ETag", "")
    previous = _outcome(clients, names, key)
    if previous and previous.get("Status") in FINAL_STATUSES and previous.get("ETag") == etag:
        return {"key": key, "status": previous["Status"], "duplicate": True}
    if previous:
        remove_attempt(clients, names, key)
    name = person_name(head.get("Metadata", {}), key)
    _put_outcome(clients, names, key, name, etag, {"status": "pending", "message": "indexing", "face_ids": []})
    outcome = index_image(clients, names, bucket, key, name)
    _put_outcome(clients, names, key, name, etag, outcome)
    return {"key": key, **outcome}


def remove_attempt(clients: Clients, names: Names, key: str) -> None:
    """Remove the faces and face items an earlier attempt at this image left behind."""
    token = image_token(key)
    face_ids = []
    pages = clients.rekognition.get_paginator("list_faces").paginate(CollectionId=names.collection)
    for page in pages:
        face_ids += [f["FaceId"] for f in page["Faces"] if f.get("ExternalImageId") == token]
    for face_id in face_ids:
        clients.dynamodb.delete_item(TableName=names.table, Key={"RekognitionId": {"S": face_id}})
    for start in range(0, len(face_ids), 4096):
        clients.rekognition.delete_faces(CollectionId=names.collection, FaceIds=face_ids[start : start + 4096])


def object_key(record: dict) -> str:
    """S3 sends keys URL-encoded, spaces as '+'."""
    return urllib.parse.unquote_plus(record["s3"]["object"]["key"])


def person_name(metadata: dict, key: str) -> str:
    """The name from the object's metadata, else the file's name without its extension."""
    encoded = metadata.get(NAME_METADATA)
    if encoded:
        return urllib.parse.unquote(encoded)
    stem = key.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def image_token(key: str) -> str:
    """An ExternalImageId for the key: Rekognition's pattern admits no spaces or non-ASCII."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def index_image(clients: Clients, names: Names, bucket: str, key: str, name: str) -> dict:
    try:
        response = clients.rekognition.index_faces(
            CollectionId=names.collection,
            Image={"S3Object": {"Bucket": bucket, "Name": key}},
            ExternalImageId=image_token(key),
            MaxFaces=1,
            QualityFilter="AUTO",
            DetectionAttributes=["DEFAULT"],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in IMAGE_ERRORS:
            return {"status": "invalid_image", "message": exc.response["Error"]["Message"], "face_ids": []}
        raise
    face_ids = [r["Face"]["FaceId"] for r in response["FaceRecords"]]
    others = [u for u in response.get("UnindexedFaces", []) if "EXCEEDS_MAX_FACES" in u["Reasons"]]
    if others:
        # Several usable faces: which one is the person is a guess, so enrol none.
        clients.rekognition.delete_faces(CollectionId=names.collection, FaceIds=face_ids)
        return {
            "status": "several_faces",
            "message": f"the photo shows {len(others) + len(face_ids)} faces; use a photo of {name} alone",
            "face_ids": [],
        }
    if not face_ids:
        return {"status": "no_face", "message": _no_face_message(response), "face_ids": []}
    now = _now()
    for face_id in face_ids:
        clients.dynamodb.put_item(
            TableName=names.table,
            Item={
                "RekognitionId": {"S": face_id},
                "ItemType": {"S": "face"},
                "FullName": {"S": name},
                "ImageKey": {"S": key},
                "IndexedAt": {"S": now},
            },
        )
    return {"status": "indexed", "message": f"indexed {name}", "face_ids": face_ids}


def _no_face_message(response: dict) -> str:
    reasons = sorted({r for u in response.get("UnindexedFaces", []) for r in u["Reasons"]})
    if reasons:
        return "the face is not clear enough: " + ", ".join(r.lower().replace("_", " ") for r in reasons)
    return "no face found in the photo"


def _outcome(clients: Clients, names: Names, key: str) -> dict | None:
    item = clients.dynamodb.get_item(
        TableName=names.table, Key={"RekognitionId": {"S": OUTCOME_PREFIX + key}}, ConsistentRead=True
    ).get("Item")
    return plain_item(item) if item else None


def plain_item(item: dict) -> dict:
    """A DynamoDB item with its type wrappers removed ({"S": "x"} -> "x"), lists and maps too."""
    return {key: _plain_value(value) for key, value in item.items()}


def _plain_value(typed: dict) -> Any:
    kind, value = next(iter(typed.items()))
    if kind == "L":
        return [_plain_value(v) for v in value]
    if kind == "M":
        return plain_item(value)
    return value


def _put_outcome(clients: Clients, names: Names, key: str, name: str, etag: str, outcome: dict) -> None:
    item = {
        "RekognitionId": {"S": OUTCOME_PREFIX + key},
        "ItemType": {"S": "image"},
        "FullName": {"S": name},
        "ImageKey": {"S": key},
        "ETag": {"S": etag},
        "ExternalImageId": {"S": image_token(key)},
        "Status": {"S": outcome["status"]},
        "Message": {"S": outcome["message"]},
        "FaceIds": {"L": [{"S": f} for f in outcome["face_ids"]]},
        "IndexedAt": {"S": _now()},
    }
    clients.dynamodb.put_item(TableName=names.table, Item=item)


def _record_key(record: dict) -> str:
    try:
        return object_key(record)
    except (KeyError, TypeError):
        return "<record without an object key>"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
