"""The indexing Lambda: S3 ObjectCreated under index/ -> Rekognition IndexFaces -> DynamoDB.

Deployable with facerec/records.py alone beside it (the table's items, which the app reads too):
standard library and boto3 only, names from the environment (DYNAMODB_TABLE_NAME,
REKOGNITION_COLLECTION_NAME). `handle` takes its clients and names as arguments, so the local
back end and the tests run this same code.

For each image the table gets one FaceItem per indexed face and one ImageItem (facerec.records).

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

One bad record never stops the others. Only transient errors (throttling, 5xx, broken
connections) are raised, after every record was tried, for Lambda to retry; any other error
is recorded for its record (on the image item, when it is IndexFaces') and the loop goes on.
Logs carry keys and outcomes, never names.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError, HTTPClientError

from facerec.records import (
    DONE_STATUSES,
    KEY,
    MISSING_OBJECT,
    PENDING,
    FaceItem,
    ImageItem,
    image_id,
    image_token,
    item_key,
    person_name,
)

log = logging.getLogger("facerec.lambda")

# Errors that say "this image", not "try again": recorded, never retried.
IMAGE_ERRORS = {
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidParameterException",
    "InvalidS3ObjectException",
}
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
# What a call to AWS raises; is_transient tells which of them are worth Lambda's retry.
AWS_ERRORS = (ClientError, HTTPClientError)
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


INDEXING = Outcome(PENDING, "indexing")


class TransientErrors(Exception):
    """Raised after every record was tried, so that Lambda retries the event."""


def lambda_handler(event: dict, context: Any) -> dict:
    """The deployed entry point. The level is set here, not at import, so that importing this module
    (the app does, to run the handler in process) changes no logging of its importer."""
    log.setLevel(logging.INFO)
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
        except Exception as exc:  # one bad record never stops the others
            if is_transient(exc):
                log.warning("will retry %s: %s", key, _error_code(exc))
                transient.append(f"{key}: {exc}")
            else:
                results.append(_record_failure(key, exc))
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


def _record_failure(key: str, exc: Exception) -> dict:
    """The result of a record that raised: failed for a permanent AWS error, error for anything else."""
    if isinstance(exc, ClientError):
        log.error("failed %s: %s", key, _error_code(exc))
        return {"key": key, "status": "failed", "message": _aws_message(exc)}
    log.exception("record failed: %s", key)
    return {"key": key, "status": "error", "message": str(exc)}


def handle_record(record: dict, clients: Clients, names: Names, take_over: bool = False) -> dict:
    bucket = record["s3"]["bucket"]["name"]
    key = object_key(record)
    try:
        head = clients.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _error_code(exc) in MISSING_OBJECT:
            return {"key": key, "status": "gone"}
        raise  # handle retries it or records it as failed
    etag = head.get("ETag", "")
    previous = _image_item(clients, names, key)
    if previous and previous.etag == etag:
        if previous.status in DONE_STATUSES:
            return {"key": key, "status": previous.status, "duplicate": True}
        if previous.status == PENDING and previous.lease_is_live(_now()) and not take_over:
            return {"key": key, "status": "in_progress", "duplicate": True}
    claim = Claim(key, person_name(head.get("Metadata", {}), key), etag, uuid.uuid4().hex)
    if not _claim(clients, names, claim, previous):
        return {"key": key, "status": "in_progress", "duplicate": True}
    if previous:
        remove_faces(clients, names, list(previous.face_ids))
    try:
        outcome = index_image(clients, names, bucket, claim)
    except AWS_ERRORS as exc:
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
        clients.dynamodb.delete_item(TableName=names.table, Key=item_key(face_id))
    delete_faces(clients.rekognition, names.collection, face_ids)


def delete_faces(rekognition: Any, collection: str, face_ids: list[str]) -> None:
    """DeleteFaces for any number of faces, in the chunks it accepts."""
    for start in range(0, len(face_ids), MAX_DELETE_FACES):
        rekognition.delete_faces(CollectionId=collection, FaceIds=face_ids[start : start + MAX_DELETE_FACES])


def object_key(record: dict) -> str:
    """S3 sends keys URL-encoded, spaces as '+'."""
    return urllib.parse.unquote_plus(record["s3"]["object"]["key"])


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
    if face_ids and not _record(clients, names, claim, replace(INDEXING, face_ids=face_ids)):
        remove_faces(clients, names, list(face_ids))  # another attempt took over: it has the image
        return INDEXING
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
        clients.dynamodb.put_item(TableName=names.table, Item=FaceItem(face_id, claim.name, claim.key, now).to_item())
    return Outcome("indexed", f"indexed {claim.name}", face_ids)


def _no_face_message(response: dict) -> str:
    reasons = sorted({r for u in response.get("UnindexedFaces", []) for r in u["Reasons"]})
    if reasons:
        return "the face is not clear enough: " + ", ".join(r.lower().replace("_", " ") for r in reasons)
    return "no face found in the photo"


def _image_item(clients: Clients, names: Names, key: str) -> ImageItem | None:
    response = clients.dynamodb.get_item(TableName=names.table, Key=item_key(image_id(key)), ConsistentRead=True)
    return ImageItem.from_item(response["Item"]) if "Item" in response else None


def _claim(clients: Clients, names: Names, claim: Claim, seen: ImageItem | None) -> bool:
    """Take the image for this attempt, if its item is still as it was read (`seen`, or none at all).

    Of two deliveries racing for one image, one wins; the other gets False.
    """
    if seen is None:
        return _put_image_item(clients, names, claim, INDEXING, f"attribute_not_exists({KEY})")
    if seen.attempt is None:  # written before attempts had ids
        return _put_image_item(clients, names, claim, INDEXING, "attribute_not_exists(Attempt)")
    return _put_image_item(clients, names, claim, INDEXING, "Attempt = :attempt", seen.attempt)


def _record(clients: Clients, names: Names, claim: Claim, outcome: Outcome) -> bool:
    """Write the attempt's progress or outcome; False if another attempt has taken the image over."""
    return _put_image_item(clients, names, claim, outcome, "Attempt = :attempt", claim.attempt)


def _release(clients: Clients, names: Names, claim: Claim) -> None:
    """End this attempt's lease early, so that Lambda's retry need not wait for it to expire."""
    try:
        item = _image_item(clients, names, claim.key)
        if item and item.attempt == claim.attempt:
            clients.dynamodb.put_item(
                TableName=names.table,
                Item=replace(item, lease_until=_now()).to_item(),
                ConditionExpression="Attempt = :attempt",
                ExpressionAttributeValues={":attempt": {"S": claim.attempt}},
            )
    except AWS_ERRORS as exc:  # the lease then expires by itself
        log.warning("could not release %s: %s", claim.key, _error_code(exc))


def _put_image_item(
    clients: Clients, names: Names, claim: Claim, outcome: Outcome, condition: str, attempt: str | None = None
) -> bool:
    now = _now()
    item = ImageItem(
        image_key=claim.key,
        name=claim.name,
        etag=claim.etag,
        status=outcome.status,
        message=outcome.message,
        face_ids=outcome.face_ids,
        indexed_at=now,
        external_image_id=image_token(claim.key),
        attempt=claim.attempt,
        lease_until=now + LEASE if outcome.status == PENDING else None,
    )
    values = {"ExpressionAttributeValues": {":attempt": {"S": attempt}}} if attempt else {}
    try:
        clients.dynamodb.put_item(TableName=names.table, Item=item.to_item(), ConditionExpression=condition, **values)
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


def _now() -> datetime:
    return datetime.now(timezone.utc)
