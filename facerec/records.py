"""The table's items, and the rest that lambda.py and the app agree on: the upload's name, the outcomes.

lambda.py writes the items and the app (facerec.service) reads them, both through these classes, so a
change to an item's shape is made here alone. The Lambda's zip carries this file beside lambda.py (as
facerec/records.py, with no facerec/__init__.py), so it imports the standard library and boto3 only.

The table's hash key is RekognitionId (S). Its items are of two kinds:

    {"RekognitionId": <FaceId>, "ItemType": "face", "FullName", "ImageKey", "IndexedAt"}
    {"RekognitionId": "image#<key>", "ItemType": "image", "FullName", "ImageKey", "ETag",
     "ExternalImageId", "Status", "Message", "FaceIds", "IndexedAt", "Attempt", "LeaseUntil"}

A FaceItem is one face in the collection and the name it was enrolled under; an ImageItem is one image
under index/: an attempt's claim on it (Status pending, with a lease), then its outcome. Values are
strings (S) and lists of strings (L); times are ISO 8601 in UTC.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

KEY = "RekognitionId"  # the table's hash key (S)
FACE = "face"  # ItemType of a FaceItem
IMAGE = "image"  # ItemType of an ImageItem
IMAGE_PREFIX = "image#"  # an ImageItem's RekognitionId: the prefix and the image's key
NAME_METADATA = "fullname"  # x-amz-meta-fullname: the name, percent-encoded UTF-8
PENDING = "pending"  # an ImageItem's Status while an attempt holds the image
# Outcomes that another run would not change: a later delivery of the same object does nothing.
DONE_STATUSES = frozenset({"indexed", "no_face", "several_faces", "invalid_image"})
# Outcomes an add waits for: also "failed", a permanent AWS error (AccessDenied...), which a later
# delivery (reindex's, once the cause is fixed) tries again.
FINAL_STATUSES = DONE_STATUSES | {"failed"}
MISSING_OBJECT = frozenset({"404", "NoSuchKey", "NotFound"})  # S3's error codes for an object not there

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class FaceItem:
    """One face in the collection, with the name it was enrolled under and the image it came from."""

    face_id: str
    name: str
    image_key: str
    indexed_at: datetime

    @property
    def rekognition_id(self) -> str:
        return self.face_id

    def to_item(self) -> dict[str, dict]:
        return _typed(
            {
                KEY: self.face_id,
                "ItemType": FACE,
                "FullName": self.name,
                "ImageKey": self.image_key,
                "IndexedAt": self.indexed_at.isoformat(),
            }
        )

    @classmethod
    def from_item(cls, item: dict[str, dict]) -> FaceItem:
        plain = _plain(item)
        return cls(plain[KEY], plain["FullName"], plain["ImageKey"], datetime.fromisoformat(plain["IndexedAt"]))


@dataclass(frozen=True)
class ImageItem:
    """One image under index/: the attempt that holds it, then the outcome of its indexing."""

    image_key: str
    name: str
    etag: str  # of the object the attempt read: a new upload under the same key is indexed again
    status: str  # PENDING, or one of FINAL_STATUSES
    message: str
    face_ids: tuple[str, ...]
    indexed_at: datetime
    external_image_id: str  # image_token(image_key), which the faces carry in the collection
    attempt: str | None = None  # None: written before attempts had ids
    lease_until: datetime | None = None  # while PENDING: when a dead attempt's claim may be taken over

    @property
    def rekognition_id(self) -> str:
        return image_id(self.image_key)

    def lease_is_live(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    def to_item(self) -> dict[str, dict]:
        plain = {
            KEY: self.rekognition_id,
            "ItemType": IMAGE,
            "FullName": self.name,
            "ImageKey": self.image_key,
            "ETag": self.etag,
            "ExternalImageId": self.external_image_id,
            "Status": self.status,
            "Message": self.message,
            "FaceIds": list(self.face_ids),
            "IndexedAt": self.indexed_at.isoformat(),
        }
        if self.attempt is not None:
            plain["Attempt"] = self.attempt
        if self.lease_until is not None:
            plain["LeaseUntil"] = self.lease_until.isoformat()
        return _typed(plain)

    @classmethod
    def from_item(cls, item: dict[str, dict]) -> ImageItem:
        plain = _plain(item)
        lease = plain.get("LeaseUntil")
        return cls(
            image_key=plain["ImageKey"],
            name=plain["FullName"],
            etag=plain["ETag"],
            status=plain["Status"],
            message=plain["Message"],
            face_ids=tuple(plain["FaceIds"]),
            indexed_at=datetime.fromisoformat(plain["IndexedAt"]),
            external_image_id=plain["ExternalImageId"],
            attempt=plain.get("Attempt"),
            lease_until=datetime.fromisoformat(lease) if lease else None,
        )


Record = FaceItem | ImageItem
_KINDS: dict[str, type[FaceItem] | type[ImageItem]] = {FACE: FaceItem, IMAGE: ImageItem}


def read_item(item: dict[str, dict]) -> Record | None:
    """The record a typed item holds, by its ItemType; None for an item of no kind known here."""
    kind = _KINDS.get(item.get("ItemType", {}).get("S", ""))
    return kind.from_item(item) if kind else None


def item_key(rekognition_id: str) -> dict[str, dict]:
    """The Key of GetItem and DeleteItem for an item."""
    return {KEY: {"S": rekognition_id}}


def image_id(image_key: str) -> str:
    """The RekognitionId of an image's ImageItem."""
    return IMAGE_PREFIX + image_key


def upload_metadata(name: str) -> dict[str, str]:
    """The Metadata of an upload under index/ that carries the person's name (any Unicode, as ASCII)."""
    return {NAME_METADATA: urllib.parse.quote(name)}


def person_name(metadata: dict, key: str) -> str:
    """The name from the object's metadata (upload_metadata's), else the file's name without its extension."""
    encoded = metadata.get(NAME_METADATA)
    if encoded:
        return urllib.parse.unquote(encoded)
    stem = key.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def image_token(key: str) -> str:
    """An ExternalImageId for the key: Rekognition's pattern admits no spaces or non-ASCII."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _typed(plain: dict[str, Any]) -> dict[str, dict]:
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def _plain(item: dict[str, dict]) -> dict[str, Any]:
    # Our items hold S and L only, which the deserializer gives back as str and list (it would give
    # sets for SS and Decimal for N, which no item here has).
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
