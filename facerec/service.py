"""What the app does, over boto3-shaped clients: add, check, people, delete, reindex.

The GUI and the CLI both use this; it runs the same on AWS and on the local
back end. Errors a user can fix surface as `UserError` subclasses with a
message fit to show; everything else is a bug or an outage, reported by the
caller's one error handler (facerec.errors).
"""

from __future__ import annotations

import hashlib
import io
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from filelock import FileLock
from PIL import Image

from facerec import faces as facelib
from facerec.boxes import RatioBox
from facerec.errors import (
    InvalidImage,
    InvalidName,
    NameTaken,
    NotEnrolled,
    StillIndexing,
    duplicate_message,
    duplicate_risk,
)
from facerec.handler import delete_faces, run_handler
from facerec.paths import private_dir
from facerec.records import (
    DONE_STATUSES,
    FINAL_STATUSES,
    KEY,
    MISSING_OBJECT,
    PENDING,
    FaceItem,
    ImageItem,
    Record,
    image_id,
    item_key,
    person_name,
    read_item,
    upload_metadata,
)
from facerec.s3_events import s3_event
from facerec.settings import Settings

INDEX_PREFIX = "index/"
# The whole photo a face was picked from, kept beside its crop (which is what index/ indexes); no event
# comes from here.
ORIGINALS_PREFIX = "originals/"
MAX_NAME_LENGTH = 100
MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # Rekognition's limit for images in S3
MIN_SEARCH_SIDE = 160  # face crops are scaled up to this, well above Rekognition's 80 px minimum
CROP_MARGIN = 0.6  # of the face box, on each side: enough context for the detector
# Twice the Lambda's timeout: an upload younger than this may still be indexing.
REINDEX_GRACE_S = 120.0
# An add reads its image item this often until the outcome is there, at one fixed delay as a botocore
# waiter reads. Measured against the doubling from 0.05 s to 1 s it replaced (bench/outcome_polling.py):
# 0.32 s late on average against 0.37 s, in 3.3 reads against 5.3; for a Lambda a second slower, 0.32 s
# against 0.60 s, in 5.3 reads against 6.9. Not botocore's waiter itself: it needs a botocore client (the
# local table is only boto3-shaped), counts attempts where an add has a deadline, and returns nothing, so
# the add would read its item again.
OUTCOME_POLL_SECONDS = 0.5
MAX_BYTES_IMAGE = 5 * 1024 * 1024  # Rekognition's limit for images sent as bytes
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}  # the files of a folder enrolled
# How JPEG and PNG files begin: a file that does and cannot be read is damaged, not something else.
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
# Outcomes that no retry changes: the photo is removed again.
REFUSED = {"no_face", "several_faces", "invalid_image"}
LIST_FACE_IDS = 4096  # ListFaces takes at most this many FaceIds
STILL_INDEXING = (
    "not indexed yet after {seconds} s; the photo is kept and its face is added when indexing finishes"
    " (reindex finishes it if it never does)"
)


@dataclass(frozen=True)
class AddResult:
    name: str
    status: str  # indexed | no_face | several_faces | invalid_image | failed | pending
    message: str
    image_key: str
    face_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "indexed"

    @property
    def pending(self) -> bool:
        """Not indexed yet: the photo is kept and may still be."""
        return self.status == "pending"


@dataclass(frozen=True)
class CheckedFace:
    name: str | None  # None: nobody enrolled matches
    similarity: float | None
    box: RatioBox
    best: float | None = None  # the nearest enrolled face's similarity, even below the threshold


@dataclass(frozen=True)
class Duplicate:
    """What an enrolment would repeat: a face or photo already enrolled, or a name but for case and spaces."""

    kind: str  # face | photo | name
    name: str  # the enrolled name it repeats
    similarity: float | None = None

    @property
    def message(self) -> str:
        return duplicate_message(self.kind, self.name, self.similarity)

    def risk(self, name: str) -> str:
        """What enrolling it anyway under `name` does."""
        return duplicate_risk(self.kind, self.name == validate_name(name))


@dataclass(frozen=True)
class Person:
    name: str
    faces: tuple[tuple[str, str], ...]  # (FaceId, key of the image it came from), as the table lists them

    @property
    def face_count(self) -> int:
        return len(self.faces)

    @property
    def face_ids(self) -> tuple[str, ...]:
        return tuple(face_id for face_id, _ in self.faces)


@dataclass(frozen=True)
class EnrolledPhoto:
    key: str  # under index/
    name: str
    etag: str
    status: str  # the indexer's outcome (indexed, ...), or pending


@dataclass(frozen=True)
class DeleteResult:
    name: str
    faces: int
    images: int
    items: int


@dataclass(frozen=True)
class RenameResult:
    old: str
    new: str
    faces: int
    merged: bool  # `new` was enrolled already: the two are one person now


@dataclass
class ReindexResult:
    indexed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)  # too recent to tell from a running add
    orphan_faces_removed: int = 0
    orphan_items_removed: int = 0
    orphan_photos_removed: int = 0


@dataclass(frozen=True)
class Upload:
    """An image checked and ready to send: the bytes, their type and size in pixels."""

    data: bytes
    content_type: str
    image: Image.Image  # as decoded, before EXIF orientation


def photos_in_folder(folder: Path) -> list[Path]:
    """The photos of a folder to enrol: its JPEG and PNG files, by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) if folder.is_dir() else []


def validate_name(name: str) -> str:
    """The name as it will be stored, or InvalidName saying what is wrong with it."""
    cleaned = " ".join(unicodedata.normalize("NFC", name or "").split())
    if not cleaned:
        raise InvalidName("The name is empty.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidName(f"The name is {len(cleaned)} characters long; use at most {MAX_NAME_LENGTH}.")
    if any(unicodedata.category(c).startswith("C") for c in cleaned):
        raise InvalidName("The name contains control characters.")
    return cleaned


def prepare_image(data: bytes, source: str = "the image") -> Upload:
    """Check that `data` is an image and return it ready to send: JPEG or PNG within Rekognition's 15 MB
    for images in S3, re-encoded (and, only if it must be, shrunk) when it is not."""
    if not data:
        raise InvalidImage(f"{source} is empty.")
    damaged = InvalidImage(f"{source} is damaged or cut short: its picture cannot be read to the end.")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InvalidImage(f"{source} is too large (over {facelib.MAX_PIXELS:,} pixels).") from None
    except Exception:
        if data.startswith(IMAGE_SIGNATURES):
            raise damaged from None
        raise InvalidImage(f"{source} is not an image (use a JPEG or PNG photo).") from None
    # The header tells the size: refuse before decoding billions of pixels.
    if image.width * image.height > facelib.MAX_PIXELS:
        raise InvalidImage(f"{source} is too large ({image.width}x{image.height} pixels).")
    if min(image.width, image.height) < facelib.MIN_IMAGE_SIDE:
        raise InvalidImage(
            f"{source} is {image.width}x{image.height} pixels: a photo needs at least "
            f"{facelib.MIN_IMAGE_SIDE} pixels on each side."
        )
    try:
        image.load()
    except Exception:  # the header was read, the pixels were not: a file cut short or damaged
        raise damaged from None
    if image.format in ("JPEG", "PNG") and len(data) <= MAX_UPLOAD_BYTES:
        return Upload(data, f"image/{image.format.lower()}", image)
    # Re-encoded upright: the new bytes carry no EXIF orientation to turn them by.
    upright = facelib.upright(image)
    return Upload(jpeg_within(upright, MAX_UPLOAD_BYTES), "image/jpeg", upright)


def fit_bytes_limit(upload: Upload) -> bytes:
    """The photo within Rekognition's 5 MB for bytes: as it is, else re-encoded (see jpeg_within)."""
    if len(upload.data) <= MAX_BYTES_IMAGE:
        return upload.data
    return jpeg_within(facelib.upright(upload.image), MAX_BYTES_IMAGE)


def jpeg_within(image: Image.Image, limit: int) -> bytes:
    """The image as a JPEG of at most `limit` bytes: at full size if it fits, else scaled down by as little as fits.

    Re-encoding first keeps every face at its size; only a photo that is still too
    large is scaled down.
    """
    image = image.convert("RGB")
    while True:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        if out.tell() <= limit:
            return out.getvalue()
        scale = max(0.5, 0.95 * (limit / out.tell()) ** 0.5)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)


class FaceService:
    """The app's operations on one bucket, collection and table."""

    def __init__(
        self,
        settings: Settings,
        s3: Any,
        rekognition: Any,
        dynamodb: Any,
        models: Callable[[], facelib.Models] | None = None,
    ) -> None:
        """`models`: gives the face models the preview finds faces with (the local back end's, so that one
        service loads them once; by default models of its own, loaded when a preview first asks)."""
        self.settings = settings
        self.s3 = s3
        self.rekognition = rekognition
        self.dynamodb = dynamodb
        self.models = models or facelib.LazyModels(settings.models)

    def close(self) -> None:
        """Close the clients it works with (a local back end's databases, once its deliveries under way are done)."""
        for service_client in (self.s3, self.rekognition, self.dynamodb):
            service_client.close()

    def __enter__(self) -> FaceService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The Add face preview

    def faces_in(self, pixels: np.ndarray) -> list[facelib.Face]:
        """The faces of a camera frame or an opened photo (RGB pixels), largest first, without descriptors:
        found on this machine on either back end, as a preview asks several times a second."""
        return facelib.find_faces(facelib.Picture(pixels), self.models(), describe=False)

    # Health

    def health(self) -> str:
        """'ready · N people enrolled', or the AWS error that says what is missing (raised)."""
        self.s3.head_bucket(Bucket=self.settings.s3_bucket_name)
        self.rekognition.list_faces(CollectionId=self.settings.rekognition_collection_name, MaxResults=1)
        count = len(self.people())
        return f"ready · {count} {'person' if count == 1 else 'people'} enrolled"

    # Add

    def add(
        self,
        name: str,
        data: bytes,
        timeout: float = 60.0,
        source: str = "the image",
        whole_photo: Upload | None = None,
    ) -> AddResult:
        """Upload a photo under index/ with the name, wait for the indexer's outcome and return it.

        The indexer runs after the upload, as S3 and Lambda run it: this waits for its
        final outcome. A photo it refuses (no face, several faces, not an image) is
        removed again, so a refused add leaves nothing behind; a photo whose outcome
        does not come in time, or whose indexing failed for a reason that may pass,
        stays, for the indexer or `reindex` to finish. `whole_photo`, the photo `data` was cropped from,
        is kept beside it once it is added (see add_face).
        """
        name = validate_name(name)
        upload = prepare_image(data, source)
        extension = "png" if upload.content_type == "image/png" else "jpg"
        key = f"{INDEX_PREFIX}{uuid.uuid4().hex}.{extension}"
        self.s3.put_object(
            Bucket=self.settings.s3_bucket_name,
            Key=key,
            Body=upload.data,
            ContentType=upload.content_type,
            Metadata=upload_metadata(name),
        )
        outcome = self._wait_for_outcome(key, timeout)
        if outcome is None:
            return AddResult(name, "pending", STILL_INDEXING.format(seconds=round(timeout)), key)
        result = AddResult(name, outcome.status, outcome.message, key, outcome.face_ids)
        if result.status in REFUSED:
            self.s3.delete_object(Bucket=self.settings.s3_bucket_name, Key=key)
            self._delete_items([outcome.rekognition_id])
        elif whole_photo is not None:
            self.s3.put_object(
                Bucket=self.settings.s3_bucket_name,
                Key=original_key(key),
                Body=whole_photo.data,
                ContentType=whole_photo.content_type,
            )
        return result

    def add_face(
        self, name: str, data: bytes, box: RatioBox, timeout: float = 60.0, source: str = "the image"
    ) -> AddResult:
        """Enrol one face of a photo that may show several: its crop goes through add (IndexFaces would
        refuse a group photo), and the whole photo is kept beside it as the enrolment image `photo` shows."""
        upload = prepare_image(data, source)
        return self.add(name, _crop(facelib.upright(upload.image), box), timeout, source, whole_photo=upload)

    def _wait_for_outcome(self, key: str, timeout: float) -> ImageItem | None:
        """The image item once it has a final status; None if it has none after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            outcome = self._item(image_id(key))
            if isinstance(outcome, ImageItem) and outcome.status in FINAL_STATUSES:
                return outcome
            if time.monotonic() >= deadline:
                return None
            time.sleep(OUTCOME_POLL_SECONDS)

    # Check

    def check(self, data: bytes, threshold: float | None = None, source: str = "the image") -> list[CheckedFace]:
        """Every face in the photo, largest first, each with the enrolled name it matches or None."""
        threshold = self.settings.match_threshold if threshold is None else threshold
        upload = prepare_image(data, source)
        image_bytes = fit_bytes_limit(upload)
        details = self.rekognition.detect_faces(Image={"Bytes": image_bytes})["FaceDetails"]
        boxes = sorted((RatioBox.from_aws(d["BoundingBox"]) for d in details), key=lambda b: -b.width * b.height)
        if not boxes:
            return []
        # SearchFacesByImage searches the largest face, so the photo itself serves the largest face
        # (the same bytes: the engine answers from the analysis DetectFaces made); the others need a crop.
        checked = [self._identify(image_bytes, boxes[0], threshold)]
        if len(boxes) > 1:
            picture = facelib.upright(upload.image)
            checked += [self._identify(_crop(picture, box), box, threshold) for box in boxes[1:]]
        return checked

    def _identify(self, image: bytes, box: RatioBox, threshold: float) -> CheckedFace:
        # Searched with no threshold, so that an Unknown face still tells how near the nearest one is;
        # the threshold is applied here.
        try:
            response = self.rekognition.search_faces_by_image(
                CollectionId=self.settings.rekognition_collection_name,
                Image={"Bytes": image},
                FaceMatchThreshold=0,
                MaxFaces=10,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InvalidParameterException":  # the crop lost the face
                return CheckedFace(None, None, box)
            raise
        for match in response["FaceMatches"]:  # best first
            item = self._item(match["Face"]["FaceId"])
            if item is None:  # a face mid-add or mid-delete has no item yet: skip it
                continue
            if match["Similarity"] >= threshold:
                return CheckedFace(item.name, match["Similarity"], box, match["Similarity"])
            return CheckedFace(None, None, box, match["Similarity"])
        return CheckedFace(None, None, box)

    # Duplicates

    def find_duplicates(
        self,
        name: str,
        data: bytes,
        source: str = "the image",
        check_name: bool = True,
        box: RatioBox | None = None,
    ) -> list[Duplicate]:
        """What enrolling `data` under `name` would repeat: the face enrolled under another name, this very
        photo enrolled already, or an enrolled name equal to `name` but for case and spaces.

        A face under two names makes Check face answer whichever is nearer, arbitrarily; the caller asks
        the user (the app) or wants them to say so (the CLI's --allow-duplicate) before adding.
        The name check reads the whole table: `check_name=False` skips it for a batch's later photos.
        With a `box`, the face there is looked for, as add_face would enrol it.
        """
        name = validate_name(name)
        upload = prepare_image(data, source)
        if box is not None:
            upload = prepare_image(_crop(facelib.upright(upload.image), box), source)
        found = (
            [
                Duplicate("name", person.name)
                for person in self.people()
                if person.name != name and name_key(person.name) == name_key(name)
            ]
            if check_name
            else []
        )
        try:
            matches = self.rekognition.search_faces_by_image(
                CollectionId=self.settings.rekognition_collection_name,
                Image={"Bytes": fit_bytes_limit(upload)},
                FaceMatchThreshold=self.settings.match_threshold,
                MaxFaces=10,
            )["FaceMatches"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InvalidParameterException":  # no face: add says why
                return found
            raise
        # The same photo has the same face, so only the images of matching faces need their ETag compared.
        etag = f'"{hashlib.md5(upload.data).hexdigest()}"'
        for match in matches:
            item = self._item(match["Face"]["FaceId"])
            if item is None:
                continue
            other = item.name
            if self._etag(item.image_key) == etag:
                found.append(Duplicate("photo", other))
            elif other != name and other not in {d.name for d in found}:
                found.append(Duplicate("face", other, match["Similarity"]))
        return found

    def _etag(self, key: str) -> str | None:
        try:
            return self.s3.head_object(Bucket=self.settings.s3_bucket_name, Key=key)["ETag"]
        except ClientError:
            return None

    # People

    def people(self) -> list[Person]:
        """Everyone enrolled, by name, with how many faces and images."""
        faces: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for item in self._items():
            if isinstance(item, FaceItem):
                faces[item.name].append((item.face_id, item.image_key))
        return [Person(name, tuple(faces[name])) for name in sorted(faces, key=str.casefold)]

    def photos(self) -> list[EnrolledPhoto]:
        """Every photo in the bucket with the name it is enrolled or being enrolled under, and its state."""
        items = self._image_items()
        photos = []
        for obj in self._index_objects():
            item = items.get(obj["Key"])
            if item is not None and item.etag == obj["ETag"]:
                photos.append(EnrolledPhoto(obj["Key"], item.name, obj["ETag"], item.status))
            else:  # not claimed by the indexer yet: the name is the upload's
                name = person_name(self._metadata(obj["Key"]), obj["Key"])
                photos.append(EnrolledPhoto(obj["Key"], name, obj["ETag"], PENDING))
        return photos

    def original(self, image_key: str) -> bytes | None:
        """The whole photo a face was picked from, if the photo is such a crop."""
        try:
            body = self.s3.get_object(Bucket=self.settings.s3_bucket_name, Key=original_key(image_key))["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING_OBJECT:
                return None
            raise
        return body.read()

    def _metadata(self, key: str) -> dict:
        try:
            return self.s3.head_object(Bucket=self.settings.s3_bucket_name, Key=key).get("Metadata", {})
        except ClientError:
            return {}

    def face_box(self, face_id: str) -> RatioBox | None:
        """Where the face is in its image, as the collection recorded it."""
        listed = self.rekognition.list_faces(CollectionId=self.settings.rekognition_collection_name, FaceIds=[face_id])
        return RatioBox.from_aws(listed["Faces"][0]["BoundingBox"]) if listed["Faces"] else None

    def delete(self, name: str) -> DeleteResult:
        """Delete everything of a person: images, faces in the collection, items in the table.

        The order keeps the store consistent if the process dies midway: images
        first (so reindex cannot enrol them again), then face items, then the
        faces, then the image items that account for those faces. Running delete
        again finishes the job. It holds the maintenance lock, so that reindex
        never works from a half-deleted person.
        """
        with self._maintenance_lock():
            all_items = self._items()
            name = enrolled_name(name, {i.name for i in all_items})
            return self._remove(name, [i for i in all_items if i.name == name])

    def remove_photo(self, image_key: str) -> DeleteResult:
        """Delete one enrolled photo of a person: the photo, its faces and its items, as delete does."""
        with self._maintenance_lock():
            items = [i for i in self._items() if i.image_key == image_key]
            image = next((i for i in items if isinstance(i, ImageItem)), None)
            if image is None:
                raise NotEnrolled("That photo is not enrolled: it was removed already.")
            if image.status not in FINAL_STATUSES:
                raise StillIndexing("That photo is still being indexed: remove it when it is done.")
            return self._remove(image.name, items)

    def _remove(self, name: str, items: list[Record]) -> DeleteResult:
        """Delete the photos, faces and items listed, in the order that a run cut short can finish."""
        face_ids = [i.face_id for i in items if isinstance(i, FaceItem)]
        image_items = [i.rekognition_id for i in items if isinstance(i, ImageItem)]
        image_keys = sorted({i.image_key for i in items})
        for key in image_keys:
            self.s3.delete_object(Bucket=self.settings.s3_bucket_name, Key=original_key(key))
            self.s3.delete_object(Bucket=self.settings.s3_bucket_name, Key=key)
        self._delete_items(face_ids)
        self._delete_faces(face_ids)
        self._delete_items(image_items)
        return DeleteResult(name, len(face_ids), len(image_keys), len(items))

    def photo(self, image_key: str) -> bytes:
        """The enrolment image of a photo: the whole photo a face was picked from, else the photo indexed."""
        return self.original(image_key) or self.indexed_photo(image_key)

    def indexed_photo(self, image_key: str) -> bytes:
        """The photo as it was uploaded under index/ (for a face picked in a group photo, its crop)."""
        return self.s3.get_object(Bucket=self.settings.s3_bucket_name, Key=image_key)["Body"].read()

    def rename(self, old: str, new: str, merge: bool = False) -> RenameResult:
        """Give a person another name: the table's name items change, no face is indexed again.

        `old` is found as delete finds it (case and spaces aside). A `new` name that is someone else's
        (as add compares names) is refused unless `merge`, which makes the two one person. A person with
        a photo still indexing is refused: its faces would come under the old name. Each item is
        rewritten whole, so a rename cut short is finished by running it again.
        """
        new = validate_name(new)
        with self._maintenance_lock():
            items = self._items()
            names = {item.name for item in items}
            old = enrolled_name(old, names)
            taken = sorted(n for n in names if n != old and name_key(n) == name_key(new))
            if taken and not merge:
                raise NameTaken(f"{taken[0]} is already enrolled: say --merge to make the two one person.")
            target = taken[0] if taken else new
            theirs = [item for item in items if item.name == old]
            if any(isinstance(item, ImageItem) and item.status not in FINAL_STATUSES for item in theirs):
                raise StillIndexing(f"A photo of {old} is still being indexed: rename when it is done.")
            for item in theirs:
                self.dynamodb.put_item(
                    TableName=self.settings.dynamodb_table_name, Item=replace(item, name=target).to_item()
                )
        faces = sum(isinstance(item, FaceItem) for item in theirs)
        return RenameResult(old, target, faces, merged=bool(taken))

    # Reindex

    def reindex(self, grace: float = REINDEX_GRACE_S) -> ReindexResult:
        """Make the bucket, the collection and the table agree again, after a crash or an outage.

        First every image under index/ without a final outcome is indexed by the same
        handler the bucket triggers (which takes over a dead attempt and removes the
        faces it recorded); then faces that no item accounts for are removed from the
        collection, and items whose face or image is gone from the table. Uploads
        younger than `grace` seconds are left alone: their handler may still be
        running. With grace 0 (`reindex --now`) live claims are taken over too.
        """
        with self._maintenance_lock():
            sweep = getattr(self.s3, "sweep", None)  # the local bucket's crash leftovers; S3 has none
            if sweep is not None:
                sweep()
            result = ReindexResult()
            self._finish_images(grace, result)
            self._remove_orphans(result)
        return result

    def _finish_images(self, grace: float, result: ReindexResult) -> None:
        image_items = self._image_items()
        now = datetime.now(timezone.utc)
        for obj in self._index_objects():
            key = obj["Key"]
            item = image_items.get(key)
            if item and item.status in DONE_STATUSES and item.etag == obj["ETag"]:
                continue
            started = item.indexed_at if item else obj["LastModified"]
            if (now - started).total_seconds() < grace:
                result.in_flight.append(key)
                continue
            outcome = self._run_handler(key, obj["Size"], obj["ETag"], take_over=grace <= 0)
            (result.indexed if outcome.get("status") == "indexed" else result.failed).append(key)

    def _remove_orphans(self, result: ReindexResult) -> None:
        """Faces no item accounts for, and items whose face or image is gone.

        Read in the order an add writes (faces, then items, then objects), so that an
        add running meanwhile is never taken for an orphan; a face item whose face
        seems missing is looked up again by id, as its face may be newer than the list.
        """
        faces = self._collection_faces()
        items = self._items()
        objects = {obj["Key"] for obj in self._index_objects()}
        face_items = {i.face_id for i in items if isinstance(i, FaceItem)}
        pending_tokens = {i.external_image_id for i in items if isinstance(i, ImageItem) and i.status == PENDING}
        orphans = [f for f, token in faces.items() if f not in face_items and token not in pending_tokens]
        self._delete_faces(orphans)
        result.orphan_faces_removed = len(orphans)
        unseen = sorted(face_items - set(faces))
        stale = [f for f in unseen if f not in self._existing_faces(unseen)]
        stale += [i.rekognition_id for i in items if isinstance(i, ImageItem) and i.image_key not in objects]
        self._delete_items(stale)
        result.orphan_items_removed = len(stale)
        # A whole photo kept for a crop deleted meanwhile (its delete raced the add that kept it).
        strays = [o["Key"] for o in self._objects(ORIGINALS_PREFIX) if index_key(o["Key"]) not in objects]
        for key in strays:
            self.s3.delete_object(Bucket=self.settings.s3_bucket_name, Key=key)
        result.orphan_photos_removed = len(strays)

    def _run_handler(self, key: str, size: int, etag: str, take_over: bool) -> dict:
        event = s3_event(
            "reindex", self.settings.region, self.settings.s3_bucket_name, "ObjectCreated:Put", key, size, etag
        )
        table, collection = self.settings.dynamodb_table_name, self.settings.rekognition_collection_name
        return run_handler(event, self.s3, self.rekognition, self.dynamodb, table, collection, take_over)["results"][0]

    def _maintenance_lock(self) -> FileLock:
        """Held by reindex and delete, whose steps must not interleave (across processes of this machine)."""
        return FileLock(private_dir(Path(self.settings.data_dir)) / "maintenance.lock")

    # Table and bucket access

    def _item(self, rekognition_id: str) -> Record | None:
        item = self.dynamodb.get_item(
            TableName=self.settings.dynamodb_table_name, Key=item_key(rekognition_id), ConsistentRead=True
        ).get("Item")
        return read_item(item) if item else None

    def _items(self) -> list[Record]:
        """The table's face and image items (an item of another kind is none of the app's)."""
        paginator = self.dynamodb.get_paginator("scan")
        pages = paginator.paginate(TableName=self.settings.dynamodb_table_name, ConsistentRead=True)
        records = (read_item(item) for page in pages for item in page.get("Items", []))
        return [record for record in records if record is not None]

    def _image_items(self) -> dict[str, ImageItem]:
        """The table's image items by the key of their image."""
        return {i.image_key: i for i in self._items() if isinstance(i, ImageItem)}

    def _delete_items(self, rekognition_ids: list[str]) -> None:
        for rekognition_id in rekognition_ids:
            self.dynamodb.delete_item(TableName=self.settings.dynamodb_table_name, Key=item_key(rekognition_id))

    def _collection_faces(self) -> dict[str, str | None]:
        """FaceId -> ExternalImageId of every face in the collection."""
        paginator = self.rekognition.get_paginator("list_faces")
        pages = paginator.paginate(CollectionId=self.settings.rekognition_collection_name)
        return {face["FaceId"]: face.get("ExternalImageId") for page in pages for face in page["Faces"]}

    def _existing_faces(self, face_ids: list[str]) -> set[str]:
        found = set()
        for start in range(0, len(face_ids), LIST_FACE_IDS):
            chunk = face_ids[start : start + LIST_FACE_IDS]
            listed = self.rekognition.list_faces(CollectionId=self.settings.rekognition_collection_name, FaceIds=chunk)
            found |= {face["FaceId"] for face in listed["Faces"]}
        return found

    def _delete_faces(self, face_ids: list[str]) -> None:
        delete_faces(self.rekognition, self.settings.rekognition_collection_name, face_ids)

    def _index_objects(self) -> list[dict]:
        return self._objects(INDEX_PREFIX)

    def _objects(self, prefix: str) -> list[dict]:
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.settings.s3_bucket_name, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", [])]


def name_key(name: str) -> str:
    """Names that differ only in case or spaces have the same key."""
    return " ".join(name.casefold().split())


def enrolled_name(name: str, enrolled: set[str]) -> str:
    """The enrolled name that `name` means, compared as add compares names (case and spaces aside).

    An exact match wins; NotEnrolled when no name, or more than one, matches the typed one.
    """
    name = validate_name(name)
    if name in enrolled:
        return name
    same = sorted(n for n in enrolled if name_key(n) == name_key(name))
    if not same:
        raise NotEnrolled(f"Nobody called {name!r} is enrolled.")
    if len(same) > 1:
        spelt = " and ".join(repr(n) for n in same)
        raise NotEnrolled(f"{spelt} are both enrolled: give the name exactly as People lists it.")
    return same[0]


def original_key(image_key: str) -> str:
    """Where the whole photo of an enrolled crop is kept."""
    return ORIGINALS_PREFIX + image_key.removeprefix(INDEX_PREFIX)


def index_key(original: str) -> str:
    """The crop in index/ that a kept whole photo belongs to."""
    return INDEX_PREFIX + original.removeprefix(ORIGINALS_PREFIX)


def _crop(image: Image.Image, box: RatioBox) -> bytes:
    """The face with a margin around it, scaled up if small, as JPEG bytes."""
    crop = box.crop(image, CROP_MARGIN)
    scale = MIN_SEARCH_SIDE / min(crop.size)
    if scale > 1:
        crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.BILINEAR)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=95)
    return out.getvalue()


def open_service(settings: Settings | None = None) -> FaceService:
    """The service on the configured back end; on the local one, its resources are made on first use."""
    from facerec.clients import client, local_backend
    from facerec.settings import load

    settings = settings or load()
    if settings.backend == "aws":
        s3, rekognition, dynamodb = (client(name, settings) for name in ("s3", "rekognition", "dynamodb"))
        return FaceService(settings, s3, rekognition, dynamodb)
    local = local_backend(settings)  # one back end: its clients work together and share its models
    ensure_resources(settings, local.s3, local.rekognition, local.dynamodb)
    return FaceService(settings, local.s3, local.rekognition, local.dynamodb, local.models)


def ensure_resources(settings: Settings, s3: Any, rekognition: Any, dynamodb: Any) -> None:
    """Bucket with its notification, collection and table, as provisioning makes them on AWS."""
    from facerec.templates import fill

    _unless_exists(lambda: s3.create_bucket(Bucket=settings.s3_bucket_name), "BucketAlreadyOwnedByYou")
    s3.put_bucket_notification_configuration(
        Bucket=settings.s3_bucket_name, NotificationConfiguration=fill("s3_notification_configuration.json", settings)
    )
    _unless_exists(
        lambda: rekognition.create_collection(CollectionId=settings.rekognition_collection_name),
        "ResourceAlreadyExistsException",
    )
    _unless_exists(lambda: dynamodb.create_table(**table_definition(settings)), "ResourceInUseException")


def table_definition(settings: Settings) -> dict:
    """The table as provisioning creates it: hash key RekognitionId, on-demand billing."""
    return {
        "TableName": settings.dynamodb_table_name,
        "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def _unless_exists(create, code: str) -> None:
    try:
        create()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != code:
            raise
