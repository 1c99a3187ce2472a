"""A local Amazon Rekognition face-collection engine with boto3's interface.

Faces are found, aligned and described by dlib (facerec.faces); collections
and descriptors persist in SQLite (facerec.local.store); responses, errors and
parameter checks follow botocore's model of Rekognition.

Similarity. dlib's descriptor puts two photos of one person at a Euclidean
distance under 0.6 (its authors' threshold, 99.38% on LFW), and the photos in
../shared/faces at most 0.525 apart within a person and at least 0.704 across
people. Rekognition's default threshold is 80. We map distance d to

    similarity = 100 / (1 + exp(SLOPE * (d - MIDPOINT)))

with SLOPE = 20 and MIDPOINT chosen so that d = 0.6 gives exactly 80. Then
same-person pairs score 95 and up (d <= 0.525), different people 33 and down
(d >= 0.704), d = 0.4 gives 99.5: at the default threshold of 80 the engine
decides exactly as dlib's own 0.6 rule does, and scores read as Rekognition's.
"""

from __future__ import annotations

import math
import threading
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from facerec import faces as facelib
from facerec.local.base import LocalClient, ServiceError, operation
from facerec.local.store import FaceStore, NewFace, StoredFace
from facerec.paths import private_dir

FACE_MODEL_VERSION = "dlib-resnet-v1"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024
MIN_IMAGE_SIDE = 80
ACCOUNT = "000000000000"

DEFAULT_THRESHOLD = 80.0
MATCH_DISTANCE = 0.6  # dlib's decision distance, which DEFAULT_THRESHOLD stands for
SIMILARITY_SLOPE = 20.0
SIMILARITY_MIDPOINT = MATCH_DISTANCE + math.log(100.0 / DEFAULT_THRESHOLD - 1.0) / -SIMILARITY_SLOPE


def similarity(distance: float) -> float:
    """Rekognition-style similarity (0-100) of two descriptors `distance` apart."""
    return 100.0 / (1.0 + math.exp(SIMILARITY_SLOPE * (distance - SIMILARITY_MIDPOINT)))


def distance_for(threshold: float) -> float:
    """The largest descriptor distance whose similarity is at least `threshold`."""
    if threshold <= 0:
        return math.inf
    if threshold >= 100:
        return 0.0
    return SIMILARITY_MIDPOINT + math.log(100.0 / threshold - 1.0) / SIMILARITY_SLOPE


# The quality policy (bars per QualityFilter level) lives with the faces it judges.
QUALITY_BARS = facelib.QUALITY_BARS


class LocalRekognition(LocalClient):
    """boto3's Rekognition client, answered by dlib on this machine."""

    service_name = "rekognition"

    def __init__(self, data_dir: Path, s3: Any = None, region: str = "us-east-1") -> None:
        self.store = FaceStore(private_dir(Path(data_dir)) / "rekognition.sqlite3")
        self.s3 = s3
        self.region = region
        self._lock = threading.Lock()

    # Collections

    @operation("CreateCollection")
    def create_collection(self, CollectionId: str, Tags: dict | None = None) -> dict:
        if not self.store.create_collection(CollectionId):
            raise ServiceError("ResourceAlreadyExistsException", f"The collection id: {CollectionId} already exists")
        return {"StatusCode": 200, "CollectionArn": self._arn(CollectionId), "FaceModelVersion": FACE_MODEL_VERSION}

    @operation("DescribeCollection")
    def describe_collection(self, CollectionId: str) -> dict:
        found = self._collection(CollectionId)
        return {
            "FaceCount": found.face_count,
            "FaceModelVersion": FACE_MODEL_VERSION,
            "CollectionARN": self._arn(CollectionId),
            "CreationTimestamp": found.created,
            "UserCount": 0,
        }

    @operation("ListCollections")
    def list_collections(self, NextToken: str = "", MaxResults: int = 1000) -> dict:
        names = self.store.collection_names(after=NextToken, limit=MaxResults + 1)
        page = names[:MaxResults]
        result: dict = {"CollectionIds": page, "FaceModelVersions": [FACE_MODEL_VERSION] * len(page)}
        if len(names) > MaxResults:
            result["NextToken"] = page[-1]
        return result

    @operation("DeleteCollection")
    def delete_collection(self, CollectionId: str) -> dict:
        if not self.store.delete_collection(CollectionId):
            raise _not_found(CollectionId)
        return {"StatusCode": 200}

    # Faces

    @operation("IndexFaces")
    def index_faces(
        self,
        CollectionId: str,
        Image: dict,
        ExternalImageId: str | None = None,
        DetectionAttributes: list[str] | None = None,
        MaxFaces: int | None = None,
        QualityFilter: str = "AUTO",
    ) -> dict:
        self._collection(CollectionId)
        picture = self._picture(Image)
        found = facelib.find_faces(picture)
        bar = QUALITY_BARS[QualityFilter]
        image_id = str(uuid.uuid4())
        records, unindexed, new = [], [], []
        for face in found:
            reasons = bar.reasons(face, picture)
            if not reasons and MaxFaces is not None and len(records) >= MaxFaces:
                reasons = ["EXCEEDS_MAX_FACES"]
            detail = _face_detail(face, picture)
            if reasons:
                unindexed.append({"Reasons": reasons, "FaceDetail": detail})
                continue
            stored = StoredFace(
                face_id=str(uuid.uuid4()),
                image_id=image_id,
                external_image_id=ExternalImageId,
                confidence=face.confidence,
                **_ratio_box(face.box, picture),
            )
            new.append(NewFace(stored, face.descriptor))
            records.append({"Face": _face_json(stored), "FaceDetail": detail})
        if new:
            self.store.add_faces(CollectionId, new)
        return {"FaceRecords": records, "FaceModelVersion": FACE_MODEL_VERSION, "UnindexedFaces": unindexed}

    @operation("ListFaces")
    def list_faces(
        self,
        CollectionId: str,
        NextToken: str = "",
        MaxResults: int = 1000,
        UserId: str | None = None,
        FaceIds: list[str] | None = None,
    ) -> dict:
        self._collection(CollectionId)
        after = _token_to_seq(NextToken)
        rows = [] if UserId else self.store.faces(CollectionId, after, MaxResults + 1, FaceIds)
        page = rows[:MaxResults]
        result: dict = {"Faces": [_face_json(f) for _, f in page], "FaceModelVersion": FACE_MODEL_VERSION}
        if len(rows) > MaxResults:
            result["NextToken"] = str(page[-1][0])
        return result

    @operation("DeleteFaces")
    def delete_faces(self, CollectionId: str, FaceIds: list[str]) -> dict:
        self._collection(CollectionId)
        return {"DeletedFaces": self.store.delete_faces(CollectionId, FaceIds)}

    # Search

    @operation("SearchFaces")
    def search_faces(
        self, CollectionId: str, FaceId: str, MaxFaces: int = 80, FaceMatchThreshold: float = DEFAULT_THRESHOLD
    ) -> dict:
        self._collection(CollectionId)
        found = self.store.face(CollectionId, FaceId)
        if found is None:
            raise ServiceError("InvalidParameterException", f"The face id {FaceId} was not found in the collection.")
        _, descriptor = found
        matches = self._matches(CollectionId, descriptor, FaceMatchThreshold, MaxFaces, exclude=FaceId)
        return {"SearchedFaceId": FaceId, "FaceMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION}

    @operation("SearchFacesByImage")
    def search_faces_by_image(
        self,
        CollectionId: str,
        Image: dict,
        MaxFaces: int = 80,
        FaceMatchThreshold: float = DEFAULT_THRESHOLD,
        QualityFilter: str = "NONE",
    ) -> dict:
        self._collection(CollectionId)
        picture = self._picture(Image)
        found = facelib.find_faces(picture)
        if not found:
            raise ServiceError("InvalidParameterException", "There are no faces in the image. Should be at least 1.")
        largest = found[0]  # find_faces sorts largest first, as Rekognition picks the largest
        if QUALITY_BARS[QualityFilter].reasons(largest, picture):
            raise ServiceError(
                "InvalidParameterException", "The largest face in the image did not pass the quality filter."
            )
        matches = self._matches(CollectionId, largest.descriptor, FaceMatchThreshold, MaxFaces)
        return {
            "SearchedFaceBoundingBox": _box_json(_ratio_box(largest.box, picture)),
            "SearchedFaceConfidence": largest.confidence,
            "FaceMatches": matches,
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    @operation("DetectFaces")
    def detect_faces(self, Image: dict, Attributes: list[str] | None = None) -> dict:
        picture = self._picture(Image)
        return {"FaceDetails": [_face_detail(f, picture) for f in facelib.find_faces(picture)]}

    @operation("CompareFaces")
    def compare_faces(
        self,
        SourceImage: dict,
        TargetImage: dict,
        SimilarityThreshold: float = DEFAULT_THRESHOLD,
        QualityFilter: str = "NONE",
    ) -> dict:
        source_picture = self._picture(SourceImage)
        target_picture = self._picture(TargetImage)
        sources = facelib.find_faces(source_picture)
        if not sources:
            raise ServiceError("InvalidParameterException", "There are no faces in the source image.")
        source = sources[0]
        bar = QUALITY_BARS[QualityFilter]
        matches, unmatched = [], []
        for face in facelib.find_faces(target_picture):
            if bar.reasons(face, target_picture):
                continue
            score = similarity(facelib.distance(source.descriptor, face.descriptor))
            compared = _compared_face(face, target_picture)
            if score >= SimilarityThreshold:
                matches.append({"Similarity": score, "Face": compared})
            else:
                unmatched.append(compared)
        matches.sort(key=lambda m: m["Similarity"], reverse=True)
        return {
            "SourceImageFace": {
                "BoundingBox": _box_json(_ratio_box(source.box, source_picture)),
                "Confidence": source.confidence,
            },
            "FaceMatches": matches,
            "UnmatchedFaces": unmatched,
        }

    # Helpers

    def _collection(self, collection_id: str):
        found = self.store.collection(collection_id)
        if found is None:
            raise _not_found(collection_id)
        return found

    def _matches(self, collection_id: str, descriptor, threshold: float, limit: int, exclude: str = "") -> list:
        hits = self.store.nearest(collection_id, descriptor, distance_for(threshold), limit + (1 if exclude else 0))
        faces = self.store.faces_by_seq([seq for seq, _ in hits])
        matches = [
            {"Similarity": similarity(d), "Face": _face_json(faces[seq])}
            for seq, d in hits
            if seq in faces and faces[seq].face_id != exclude
        ]
        return matches[:limit]

    def _picture(self, image: dict) -> facelib.Picture:
        data = self._image_bytes(image)
        try:
            picture = facelib.decode(data)
        except facelib.ImageTooLarge as exc:
            raise ServiceError("ImageTooLargeException", f"Image size is too large: {exc}") from None
        except facelib.ImageError:
            raise ServiceError("InvalidImageFormatException", "Request has invalid image format") from None
        if min(picture.width, picture.height) < MIN_IMAGE_SIDE:
            raise ServiceError(
                "InvalidParameterException",
                f"The minimum image dimensions are {MIN_IMAGE_SIDE} pixels for both height and width; "
                f"this image is {picture.width}x{picture.height}.",
            )
        return picture

    def _image_bytes(self, image: dict) -> bytes:
        if "Bytes" in image:
            data = image["Bytes"]
            data = data.read() if hasattr(data, "read") else bytes(data)
            if not data:
                # boto3 sends empty bytes; Rekognition's own validation refuses them.
                raise ServiceError(
                    "InvalidParameterException",
                    "1 validation error detected: Value at 'image.bytes' failed to satisfy constraint: "
                    "Member must have length greater than or equal to 1",
                )
            if len(data) > MAX_IMAGE_BYTES:
                raise ServiceError("ImageTooLargeException", "Image size is too large. The limit is 5 MB as bytes.")
            return data
        if "S3Object" in image:
            return self._s3_bytes(image["S3Object"])
        raise ServiceError("InvalidParameterException", "The image must have either Bytes or S3Object.")

    def _s3_bytes(self, ref: dict) -> bytes:
        bad = ServiceError(
            "InvalidS3ObjectException",
            "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
        )
        if self.s3 is None or not ref.get("Bucket") or not ref.get("Name"):
            raise bad
        try:
            head = self.s3.head_object(Bucket=ref["Bucket"], Key=ref["Name"])
            if head["ContentLength"] > MAX_S3_IMAGE_BYTES:
                raise ServiceError("ImageTooLargeException", "Image size is too large. The limit is 15 MB in S3.")
            return self.s3.get_object(Bucket=ref["Bucket"], Key=ref["Name"])["Body"].read()
        except ClientError:
            raise bad from None

    def _arn(self, collection_id: str) -> str:
        return f"aws:rekognition:{self.region}:{ACCOUNT}:collection/{collection_id}"


def _not_found(collection_id: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"The collection id: {collection_id} does not exist")


def _token_to_seq(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise ServiceError("InvalidPaginationTokenException", "Invalid pagination token.")
    return int(token)


def _ratio_box(box: facelib.Box, picture: facelib.Picture) -> dict:
    return {
        "left": box.left / picture.width,
        "top": box.top / picture.height,
        "width": box.width / picture.width,
        "height": box.height / picture.height,
    }


def _box_json(box: dict) -> dict:
    return {"Width": box["width"], "Height": box["height"], "Left": box["left"], "Top": box["top"]}


def _face_json(face: StoredFace) -> dict:
    result = {
        "FaceId": face.face_id,
        "BoundingBox": {"Width": face.width, "Height": face.height, "Left": face.left, "Top": face.top},
        "ImageId": face.image_id,
        "Confidence": face.confidence,
        "IndexFacesModelVersion": FACE_MODEL_VERSION,
    }
    if face.external_image_id is not None:
        result["ExternalImageId"] = face.external_image_id
    return result


def _compared_face(face: facelib.Face, picture: facelib.Picture) -> dict:
    return {
        "BoundingBox": _box_json(_ratio_box(face.box, picture)),
        "Confidence": face.confidence,
        "Landmarks": _landmarks_json(face, picture),
        "Pose": {"Roll": face.pose.roll, "Yaw": face.pose.yaw, "Pitch": face.pose.pitch},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
    }


def _face_detail(face: facelib.Face, picture: facelib.Picture) -> dict:
    # The attributes this engine measures; the others of "ALL" (age, emotions...) it does not estimate.
    return _compared_face(face, picture)


def _landmarks_json(face: facelib.Face, picture: facelib.Picture) -> list[dict]:
    return [{"Type": name, "X": x / picture.width, "Y": y / picture.height} for name, (x, y) in face.landmarks.items()]
