"""The indexing Lambda: S3 ObjectCreated under index/ -> Rekognition IndexFaces -> DynamoDB.

Deployable alone: standard library and boto3 only, names from the environment
(DYNAMODB_TABLE_NAME, REKOGNITION_COLLECTION_NAME). `handle` takes its clients
and names as arguments, so the local back end and the tests run this same code.

For each image the table gets one item per indexed face and one image item:

    {"RekognitionId": <FaceId>, "ItemType": "face", "FullName", "ImageKey", "IndexedAt"}
    {"RekognitionId": "image#<key>", "ItemType": "image", "FullName", "ImageKey", "ETag",
     "ExternalImageId", "Status", "Message", "FaceIds", "IndexedAt", "Attempt", "LeaseUntil"}

S3 delivers events at least once, sometimes twice at the same moment, and Lambda
retries a run that raised; IndexFaces adds a new face every time it is called. So
an attempt first *claims* the image: a conditional PutItem of the pending image
item with a fresh Attempt id and a lease (LeaseUntil), which succeeds only if
the item is still as this attempt read it. A delivery that finds a done outcome
or a live lease for the same ETag does nothing; one that loses the race for the
claim does nothing. A lease outlives the function's timeout, so only a dead
attempt's lease expires, and the next delivery (Lambda's retry, or reindex)
takes over: it removes the faces the dead attempt recorded, then indexes again.

The order of writes keeps every face accounted for, whenever the process dies:
the pending item (the claim) carries the ExternalImageId the faces will carry;
then IndexFaces; then the pending item again with the new FaceIds; then the face
items; then the final Status (indexed, no_face, several_faces, invalid_image, or
failed for a permanent AWS error such as AccessDenied). A face indexed by an
attempt that died before recording it is left to reindex's sweep, the one place
that lists the whole collection.

Only transient errors (throttling, 5xx, broken connections) are raised, after the
other records, for Lambda to retry; other errors are recorded on the image item.
Logs carry keys and outcomes, never names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError, HTTPClientError

log = logging.getLogger("facerec.lambda")
log.setLevel(logging.INFO)

NAME_METADATA = "fullname"  # x-amz-meta-fullname: the name, percent-encoded UTF-8
OUTCOME_PREFIX = "image#"
# Outcomes that another run would not change: a later delivery of the same object does nothing.
DONE_STATUSES = {"indexed", "no_face", "several_faces", "invalid_image"}
# Outcomes an add waits for: also "failed", a permanent AWS error (AccessDenied...), which a later
# delivery (reindex's, once the cause is fixed) tries again.
FINAL_STATUSES = DONE_STATUSES | {"failed"}
# Errors that say "this image", not "try again": recorded, never retried.
IMAGE_ERRORS = {
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidParameterException",
    "InvalidS3ObjectException",
}
MISSING_OBJECT = {"404", "NoSuchKey", "NotFound"}
THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "InternalServerError",
    "ServiceUnavailable",
}
TRANSIENT_EXCEPTIONS = (ClientError, HTTPClientError)
# Longer than the function's timeout (60 s, scripts/aws_helper.py), so a live attempt never loses its
# claim; shorter than reindex's grace (120 s), so reindex finds the leases of dead attempts expired.
LEASE = timedelta(seconds=90)
MAX_DELETE_FACES = 4096  # DeleteFaces takes at most this many FaceIds


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


@dataclass(frozen=True)
class Claim:
    """One attempt at one version of one image."""

    key: str
    name: str
    etag: str
    attempt: str


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str
    face_ids: tuple[str, ...] = ()


PENDING = Outcome("pending", "indexing")


class TransientErrors(Exception):
    """Raised after every record was tried, so that Lambda retries the event."""


def lambda_handler(event: dict, context: Any) -> dict:
    return handle(event, Clients.from_boto3(), Names.from_env())


def handle(event: dict, clients: Clients, names: Names, take_over: bool = False) -> dict:
    """Index every record's image; raise TransientErrors at the end if any record should be retried.

    `take_over` ignores live leases: for `reindex --now`, whose user says no add is running.
    """
    results, transient = [], []
    for record in event.get("Records", []):
        key = _record_key(record)
        try:
            results.append(handle_record(record, clients, names, take_over))
        except TRANSIENT_EXCEPTIONS as exc:
            if not is_transient(exc):
                raise
            log.warning("will retry %s: %s", key, _error_code(exc))
            transient.append(f"{key}: {exc}")
        except Exception as exc:  # one bad record never stops the others
            log.exception("record failed: %s", key)
            results.append({"key": key, "status": "error", "message": str(exc)})
    log.info(json.dumps([{"key": r["key"], "status": r["status"]} for r in results]))
    if transient:
        raise TransientErrors("; ".join(transient))
    return {"results": results}


def is_transient(exc: Exception) -> bool:
    """Throttling, a server-side error or a broken connection: worth Lambda's retry."""
    if isinstance(exc, HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _error_code(exc) in THROTTLING or status >= 500
    return False


def handle_record(record: dict, clients: Clients, names: Names, take_over: bool = False) -> dict:
    bucket = record["s3"]["bucket"]["name"]
    key = object_key(record)
    try:
        head = clients.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _error_code(exc) in MISSING_OBJECT:
            return {"key": key, "status": "gone"}
        if is_transient(exc):
            raise
        log.error("cannot read %s: %s", key, _error_code(exc))
        return {"key": key, "status": "failed", "message": _aws_message(exc)}
    etag = head.get("ETag", "")
    previous = _outcome(clients, names, key)
    if previous and previous.get("ETag") == etag:
        if previous.get("Status") in DONE_STATUSES:
            return {"key": key, "status": previous["Status"], "duplicate": True}
        if previous.get("Status") == "pending" and _lease_is_live(previous) and not take_over:
            return {"key": key, "status": "in_progress", "duplicate": True}
    claim = Claim(key, person_name(head.get("Metadata", {}), key), etag, uuid.uuid4().hex)
    if not _claim(clients, names, claim, previous):
        return {"key": key, "status": "in_progress", "duplicate": True}
    if previous:
        remove_faces(clients, names, previous.get("FaceIds") or [])
    try:
        outcome = index_image(clients, names, bucket, claim)
    except TRANSIENT_EXCEPTIONS as exc:
        if is_transient(exc):
            _release(clients, names, claim)
            raise
        log.error("failed %s: %s", key, _error_code(exc))
        outcome = Outcome("failed", _aws_message(exc))
    if not _record(clients, names, claim, outcome):
        remove_faces(clients, names, list(outcome.face_ids))  # another attempt took over: it has the image
        return {"key": key, "status": "in_progress", "duplicate": True}
    return {"key": key, "status": outcome.status, "message": outcome.message, "face_ids": list(outcome.face_ids)}


def remove_faces(clients: Clients, names: Names, face_ids: list[str]) -> None:
    """Remove the faces (and their face items) an earlier attempt at an image recorded."""
    for face_id in face_ids:
        clients.dynamodb.delete_item(TableName=names.table, Key={"RekognitionId": {"S": face_id}})
    delete_faces(clients.rekognition, names.collection, face_ids)


def delete_faces(rekognition: Any, collection: str, face_ids: list[str]) -> None:
    """DeleteFaces for any number of faces, in the chunks it accepts."""
    for start in range(0, len(face_ids), MAX_DELETE_FACES):
        rekognition.delete_faces(CollectionId=collection, FaceIds=face_ids[start : start + MAX_DELETE_FACES])


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


def index_image(clients: Clients, names: Names, bucket: str, claim: Claim) -> Outcome:
    try:
        response = clients.rekognition.index_faces(
            CollectionId=names.collection,
            Image={"S3Object": {"Bucket": bucket, "Name": claim.key}},
            ExternalImageId=image_token(claim.key),
            MaxFaces=1,
            QualityFilter="AUTO",
            DetectionAttributes=["DEFAULT"],
        )
    except ClientError as exc:
        if _error_code(exc) in IMAGE_ERRORS:
            return Outcome("invalid_image", exc.response["Error"].get("Message", ""))
        raise
    face_ids = tuple(r["Face"]["FaceId"] for r in response["FaceRecords"])
    if face_ids and not _record(clients, names, claim, Outcome("pending", "indexing", face_ids)):
        remove_faces(clients, names, list(face_ids))  # another attempt took over: it has the image
        return Outcome("pending", "indexing")
    others = [u for u in response.get("UnindexedFaces", []) if "EXCEEDS_MAX_FACES" in u["Reasons"]]
    if others:
        # Several usable faces: which one is the person is a guess, so enrol none.
        remove_faces(clients, names, list(face_ids))
        count = len(others) + len(face_ids)
        return Outcome("several_faces", f"the photo shows {count} faces; use a photo of {claim.name} alone")
    if not face_ids:
        return Outcome("no_face", _no_face_message(response))
    now = _now()
    for face_id in face_ids:
        clients.dynamodb.put_item(
            TableName=names.table,
            Item={
                "RekognitionId": {"S": face_id},
                "ItemType": {"S": "face"},
                "FullName": {"S": claim.name},
                "ImageKey": {"S": claim.key},
                "IndexedAt": {"S": now},
            },
        )
    return Outcome("indexed", f"indexed {claim.name}", face_ids)


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


def _lease_is_live(item: dict) -> bool:
    until = item.get("LeaseUntil")
    return bool(until) and datetime.fromisoformat(until) > datetime.now(timezone.utc)


def _claim(clients: Clients, names: Names, claim: Claim, seen: dict | None) -> bool:
    """Take the image for this attempt, if its item is still as it was read (`seen`, or none at all).

    Of two deliveries racing for one image, one wins; the other gets False.
    """
    if seen is None:
        return _put_image_item(clients, names, claim, PENDING, "attribute_not_exists(RekognitionId)")
    if "Attempt" not in seen:  # written before attempts had ids
        return _put_image_item(clients, names, claim, PENDING, "attribute_not_exists(Attempt)")
    return _put_image_item(clients, names, claim, PENDING, "Attempt = :attempt", seen["Attempt"])


def _record(clients: Clients, names: Names, claim: Claim, outcome: Outcome) -> bool:
    """Write the attempt's progress or outcome; False if another attempt has taken the image over."""
    return _put_image_item(clients, names, claim, outcome, "Attempt = :attempt", claim.attempt)


def _release(clients: Clients, names: Names, claim: Claim) -> None:
    """End this attempt's lease early, so that Lambda's retry need not wait for it to expire."""
    try:
        item = _outcome(clients, names, claim.key)
        if item and item.get("Attempt") == claim.attempt:
            item["LeaseUntil"] = _now()
            clients.dynamodb.put_item(
                TableName=names.table,
                Item=typed_item(item),
                ConditionExpression="Attempt = :attempt",
                ExpressionAttributeValues={":attempt": {"S": claim.attempt}},
            )
    except TRANSIENT_EXCEPTIONS as exc:  # the lease then expires by itself
        log.warning("could not release %s: %s", claim.key, _error_code(exc))


def typed_item(item: dict) -> dict:
    """The inverse of plain_item for the types image items use: strings and lists of strings."""
    return {k: {"L": [{"S": x} for x in v]} if isinstance(v, list) else {"S": v} for k, v in item.items()}


def _put_image_item(
    clients: Clients, names: Names, claim: Claim, outcome: Outcome, condition: str, attempt: str | None = None
) -> bool:
    item = {
        "RekognitionId": {"S": OUTCOME_PREFIX + claim.key},
        "ItemType": {"S": "image"},
        "FullName": {"S": claim.name},
        "ImageKey": {"S": claim.key},
        "ETag": {"S": claim.etag},
        "ExternalImageId": {"S": image_token(claim.key)},
        "Status": {"S": outcome.status},
        "Message": {"S": outcome.message},
        "FaceIds": {"L": [{"S": f} for f in outcome.face_ids]},
        "IndexedAt": {"S": _now()},
        "Attempt": {"S": claim.attempt},
    }
    if outcome.status == "pending":
        item["LeaseUntil"] = {"S": (datetime.now(timezone.utc) + LEASE).isoformat()}
    values = {"ExpressionAttributeValues": {":attempt": {"S": attempt}}} if attempt else {}
    try:
        clients.dynamodb.put_item(TableName=names.table, Item=item, ConditionExpression=condition, **values)
    except ClientError as exc:
        if _error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _error_code(exc: Exception) -> str:
    return exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


def _aws_message(exc: ClientError) -> str:
    """What the app shows for a permanent AWS error: its code and AWS's words, which name the resource."""
    return f"{_error_code(exc)}: {exc.response['Error'].get('Message', '')}".rstrip(": ")


def _record_key(record: dict) -> str:
    try:
        return object_key(record)
    except (KeyError, TypeError):
        return "<record without an object key>"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
