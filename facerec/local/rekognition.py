"""A local Amazon Rekognition face-collection engine with boto3's interface.

Faces are found, aligned and described by dlib (facerec.faces); collections
and descriptors persist in SQLite (facerec.local.store); responses, errors and
parameter checks follow botocore's model of Rekognition.

Similarity is calibrated in facerec.similarity, the quality bars are facerec.quality's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from facerec import faces as facelib
from facerec.aws_errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    InvalidS3ObjectException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from facerec.expression import judged_expression
from facerec.gender import GenderClassifier
from facerec.landmarks import DEFAULT_LANDMARKS, LANDMARK_POINTS, named_landmarks
from facerec.local.analysis import Analysis, AnalysisCache
from facerec.local.base import LocalClient, operation
from facerec.local.store import CollectionGone, FaceStore, NewFace, StoredFace, TooManyTags
from facerec.paths import private_dir
from facerec.quality import QUALITY_BARS
from facerec.similarity import DEFAULT_THRESHOLD, distance_for, similarity

# A version number, as Rekognition gives ("7.0" for collections made today), so that clients that
# parse or compare it work; the engine answers as face model 7.0 does (no OrientationCorrection).
FACE_MODEL_VERSION = "7.0"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024
ACCOUNT = "000000000000"
# The attributes beyond DEFAULT this engine measures from the face's points, by the name a request
# asks for them with (GENDER comes from a trained model: facerec.gender). The others (AGE_RANGE,
# EMOTIONS, EYEGLASSES, SUNGLASSES, BEARD, MUSTACHE, EYE_DIRECTION, FACE_OCCLUDED) need trained
# models we do not have: they are left out of answers, not guessed.
MEASURED_ATTRIBUTES = {"EyesOpen": "EYES_OPEN", "MouthOpen": "MOUTH_OPEN", "Smile": "SMILE"}

DEFAULT_USER_SEARCH_THRESHOLD = 80.0  # SearchUsers, SearchUsersByImage
DEFAULT_ASSOCIATION_THRESHOLD = 75.0  # AssociateFaces
MAX_FACES_PER_USER = 100
MAX_TAGS = 50  # AWS's limit of user tags per resource
# How a user (several faces) is matched: by the mean of its descriptors, which separated people
# better than the nearest face on ../shared/faces (bench/user_matching.py: margin 0.211 against 0.184).
USER_MATCH_RULE = "mean"


def user_distances(owners: list[str], vectors: np.ndarray, query: np.ndarray, rule: str) -> dict[str, float]:
    """Each user's distance to `query`: to its nearest face ("nearest") or to its mean descriptor ("mean").

    `owners[i]` is the user of `vectors[i]`. Measured on ../shared/faces by bench/user_matching.py.
    """
    if not owners:
        return {}
    users = sorted(set(owners))
    index = _index_of(owners, users)
    q = np.asarray(query, dtype=np.float32)
    if rule == "mean":
        sums = np.zeros((len(users), vectors.shape[1]), dtype=np.float64)
        np.add.at(sums, index, vectors)
        means = sums / np.bincount(index, minlength=len(users))[:, None]
        return dict(zip(users, np.linalg.norm(means - q, axis=1).tolist(), strict=True))
    distances = np.linalg.norm(vectors - q, axis=1)
    best = np.full(len(users), np.inf)
    np.minimum.at(best, index, distances)
    return dict(zip(users, best.tolist(), strict=True))


def _index_of(owners: list[str], users: list[str]) -> np.ndarray:
    position = {u: i for i, u in enumerate(users)}
    return np.fromiter((position[o] for o in owners), dtype=np.int64, count=len(owners))


class LocalRekognition(LocalClient):
    """boto3's Rekognition client, answered by dlib on this machine."""

    service_name = "rekognition"
    checks_all_constraints = True

    def __init__(
        self, data_dir: Path, models: Callable[[], facelib.Models], s3: Any = None, region: str = "us-east-1"
    ) -> None:
        """`models`: gives the loaded face models when a face is first looked for (its back end's, which
        loads them then: an engine that only lists or deletes loads none)."""
        self.folder = private_dir(Path(data_dir))
        self.store = FaceStore(self.folder / "rekognition.sqlite3")
        self.models = models
        self.s3 = s3
        self.region = region
        self._lock = threading.Lock()
        self.analyses = AnalysisCache()
        self.gender = GenderClassifier()
        self._regions = {region: self}

    def in_region(self, region: str) -> LocalRekognition:
        """This engine as a client signed for `region` sees it.

        AWS keeps collections per account and region: the data folder's own collections are this engine's
        region's (the settings'), every other region has a database of its own beside them. The models and
        the analysed photos are shared: the same pixels are the same faces in every region.
        """
        with self._lock:
            if region not in self._regions:
                other = copy.copy(self)
                other.region = region
                other.store = FaceStore(self.folder / f"rekognition.{region}.sqlite3")
                self._regions[region] = other
            return self._regions[region]

    def close(self) -> None:
        """Close the collections' databases, of every region."""
        with self._lock:
            for engine in self._regions.values():
                engine.store.close()

    # Collections

    @operation("CreateCollection")
    def create_collection(self, CollectionId: str, Tags: dict | None = None) -> dict:
        if Tags and len(Tags) > MAX_TAGS:
            raise _too_many_tags()
        if not self.store.create_collection(CollectionId):
            raise ResourceAlreadyExistsException(f"The collection id: {CollectionId} already exists")
        if Tags:
            self.store.set_tags(CollectionId, Tags, MAX_TAGS)
        return {"StatusCode": 200, "CollectionArn": self._arn(CollectionId), "FaceModelVersion": FACE_MODEL_VERSION}

    @operation("DescribeCollection")
    def describe_collection(self, CollectionId: str) -> dict:
        found = self._collection(CollectionId)
        return {
            "FaceCount": found.face_count,
            "FaceModelVersion": FACE_MODEL_VERSION,
            "CollectionARN": self._arn(CollectionId),
            "CreationTimestamp": found.created,
            "UserCount": found.user_count,
        }

    @operation("ListCollections")
    def list_collections(self, NextToken: str = "", MaxResults: int = 1000) -> dict:
        MaxResults = MaxResults or 1000  # the model allows 0: a page of nothing would never end a paginator
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
        self.analyses.forget_all()
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
        collection = self._collection(CollectionId)
        picture, found = self._analyse(Image)
        bar = QUALITY_BARS[QualityFilter]
        image_id = str(uuid.uuid4())
        records, unindexed, new = [], [], []
        for face, detail in zip(found, self._face_details(picture, found, DetectionAttributes), strict=True):
            reasons = bar.reasons(face, picture)
            if not reasons and MaxFaces is not None and len(records) >= MaxFaces:
                reasons = ["EXCEEDS_MAX_FACES"]
            if reasons:
                unindexed.append({"Reasons": reasons, "FaceDetail": detail})
                continue
            stored = StoredFace(
                face_id=str(uuid.uuid4()),
                image_id=image_id,
                external_image_id=ExternalImageId,
                confidence=face.confidence,
                box=face.box.ratios(picture.width, picture.height),
            )
            new.append(NewFace(stored, face.descriptor))
            records.append({"Face": _face_json(stored), "FaceDetail": detail})
        try:
            if new:  # into the collection as it was looked up, not one deleted and made again meanwhile
                self.store.add_faces(CollectionId, new, created=collection.created)
        except CollectionGone:
            raise _not_found(CollectionId) from None
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
        MaxResults = MaxResults or 1000  # the model allows 0, as for ListCollections
        rows = self.store.faces(CollectionId, after, MaxResults + 1, FaceIds, UserId)
        page = rows[:MaxResults]
        result: dict = {"Faces": [_face_json(f) for _, f in page], "FaceModelVersion": FACE_MODEL_VERSION}
        if len(rows) > MaxResults:
            result["NextToken"] = str(page[-1][0])
        return result

    @operation("DeleteFaces")
    def delete_faces(self, CollectionId: str, FaceIds: list[str]) -> dict:
        self._collection(CollectionId)
        owners = self.store.face_owners(CollectionId, FaceIds)
        unsuccessful, free = [], []
        for face_id in dict.fromkeys(FaceIds):
            if face_id not in owners:
                unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            elif owners[face_id] is not None:
                # As on AWS: a face that belongs to a user is disassociated before it can be deleted.
                reasons = ["ASSOCIATED_TO_AN_EXISTING_USER"]
                unsuccessful.append({"FaceId": face_id, "UserId": owners[face_id], "Reasons": reasons})
            else:
                free.append(face_id)
        deleted = self.store.delete_faces(CollectionId, free) if free else []
        self.analyses.forget_all()
        return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}

    # Users

    @operation("CreateUser")
    def create_user(self, CollectionId: str, UserId: str, ClientRequestToken: str | None = None) -> dict:
        def run() -> dict:
            if not self.store.create_user(CollectionId, UserId):
                raise ConflictException(f"The user id: {UserId} already exists in the collection")
            return {}

        return self._once(CollectionId, "CreateUser", ClientRequestToken, {"UserId": UserId}, run)

    @operation("DeleteUser")
    def delete_user(self, CollectionId: str, UserId: str, ClientRequestToken: str | None = None) -> dict:
        def run() -> dict:
            if not self.store.delete_user(CollectionId, UserId):
                raise _user_not_found(UserId)
            return {}

        return self._once(CollectionId, "DeleteUser", ClientRequestToken, {"UserId": UserId}, run)

    @operation("ListUsers")
    def list_users(self, CollectionId: str, MaxResults: int = 500, NextToken: str = "") -> dict:
        self._collection(CollectionId)
        found = self.store.users(CollectionId, after=NextToken, limit=MaxResults + 1)
        page = found[:MaxResults]
        result: dict = {"Users": [{"UserId": u.user_id, "UserStatus": _user_status(u.face_count)} for u in page]}
        if len(found) > MaxResults:
            result["NextToken"] = page[-1].user_id
        return result

    @operation("AssociateFaces")
    def associate_faces(
        self,
        CollectionId: str,
        UserId: str,
        FaceIds: list[str],
        UserMatchThreshold: float = DEFAULT_ASSOCIATION_THRESHOLD,
        ClientRequestToken: str | None = None,
    ) -> dict:
        request = {"UserId": UserId, "FaceIds": FaceIds, "UserMatchThreshold": UserMatchThreshold}

        def run() -> dict:
            user = self._user(CollectionId, UserId)
            owners = self.store.face_owners(CollectionId, FaceIds)
            owners_of_user, vectors = self.store.user_descriptors(CollectionId, UserId)
            room = MAX_FACES_PER_USER - user.face_count
            added, unsuccessful = [], []
            for face_id in dict.fromkeys(FaceIds):
                failure = self._association_failure(CollectionId, face_id, UserId, owners, vectors, UserMatchThreshold)
                if failure is None and owners.get(face_id) == UserId:
                    continue  # already this user's: ignored, as AWS documents
                if failure is None and len(added) >= room:
                    raise ServiceQuotaExceededException(
                        f"A user has at most {MAX_FACES_PER_USER} faces; {UserId} has {user.face_count}.",
                    )
                if failure is None:
                    added.append(face_id)
                else:
                    unsuccessful.append(failure)
            if added:
                self.store.associate(CollectionId, UserId, added)
            return {
                "AssociatedFaces": [{"FaceId": f} for f in added],
                "UnsuccessfulFaceAssociations": unsuccessful,
                "UserStatus": _user_status(user.face_count + len(added)),
            }

        return self._once(CollectionId, "AssociateFaces", ClientRequestToken, request, run)

    def _association_failure(
        self, collection: str, face_id: str, user_id: str, owners: dict, vectors: np.ndarray, threshold: float
    ) -> dict | None:
        if face_id not in owners:
            return {"FaceId": face_id, "UserId": user_id, "Reasons": ["FACE_NOT_FOUND"]}
        if owners[face_id] not in (None, user_id):
            return {"FaceId": face_id, "UserId": user_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
        if owners[face_id] is None and len(vectors):
            # A user with faces takes only faces that match it, so one user stays one person.
            _, descriptor = self.store.face(collection, face_id)
            score = similarity(user_distances([user_id] * len(vectors), vectors, descriptor, USER_MATCH_RULE)[user_id])
            if score < threshold:
                return {"FaceId": face_id, "UserId": user_id, "Confidence": score, "Reasons": ["LOW_MATCH_CONFIDENCE"]}
        return None

    @operation("DisassociateFaces")
    def disassociate_faces(
        self, CollectionId: str, UserId: str, FaceIds: list[str], ClientRequestToken: str | None = None
    ) -> dict:
        def run() -> dict:
            user = self._user(CollectionId, UserId)
            owners = self.store.face_owners(CollectionId, FaceIds)
            removed, unsuccessful = [], []
            for face_id in dict.fromkeys(FaceIds):
                if face_id not in owners:
                    unsuccessful.append({"FaceId": face_id, "UserId": UserId, "Reasons": ["FACE_NOT_FOUND"]})
                elif owners[face_id] not in (None, UserId):
                    reasons = ["ASSOCIATED_TO_A_DIFFERENT_USER"]
                    unsuccessful.append({"FaceId": face_id, "UserId": UserId, "Reasons": reasons})
                elif owners[face_id] == UserId:
                    removed.append(face_id)
            if removed:
                self.store.disassociate(CollectionId, UserId, removed)
            return {
                "DisassociatedFaces": [{"FaceId": f} for f in removed],
                "UnsuccessfulFaceDisassociations": unsuccessful,
                "UserStatus": _user_status(user.face_count - len(removed)),
            }

        request = {"UserId": UserId, "FaceIds": FaceIds}
        return self._once(CollectionId, "DisassociateFaces", ClientRequestToken, request, run)

    @operation("SearchUsers")
    def search_users(
        self,
        CollectionId: str,
        UserId: str | None = None,
        FaceId: str | None = None,
        UserMatchThreshold: float = DEFAULT_USER_SEARCH_THRESHOLD,
        MaxUsers: int = 500,
    ) -> dict:
        self._collection(CollectionId)
        if (UserId is None) == (FaceId is None):
            raise InvalidParameterException("Exactly one of UserId and FaceId must be given.")
        result: dict = {"FaceModelVersion": FACE_MODEL_VERSION}
        if FaceId is not None:
            found = self.store.face(CollectionId, FaceId)
            if found is None:
                raise ResourceNotFoundException(f"The face id: {FaceId} does not exist")
            queries = [found[1]]
            result["SearchedFace"] = {"FaceId": FaceId}
        else:
            self._user(CollectionId, UserId)
            _, vectors = self.store.user_descriptors(CollectionId, UserId)
            queries = [vectors.mean(axis=0)] if USER_MATCH_RULE == "mean" and len(vectors) else list(vectors)
            result["SearchedUser"] = {"UserId": UserId}
        result["UserMatches"] = self._user_matches(CollectionId, queries, UserMatchThreshold, MaxUsers, UserId)
        return result

    @operation("SearchUsersByImage")
    def search_users_by_image(
        self,
        CollectionId: str,
        Image: dict,
        UserMatchThreshold: float = DEFAULT_USER_SEARCH_THRESHOLD,
        MaxUsers: int = 500,
        QualityFilter: str = "NONE",
    ) -> dict:
        self._collection(CollectionId)
        picture, found = self._analyse(Image)
        result: dict = {"UserMatches": [], "FaceModelVersion": FACE_MODEL_VERSION, "UnsearchedFaces": []}
        for face in found[1:]:
            unsearched = {"FaceDetails": _face_detail(face, picture), "Reasons": ["FACE_NOT_LARGEST"]}
            result["UnsearchedFaces"].append(unsearched)
        if not found:
            return result
        largest = found[0]
        reasons = QUALITY_BARS[QualityFilter].reasons(largest)
        if reasons:
            # No searchable face: empty matches and no SearchedFace, as the operation's documentation says.
            result["UnsearchedFaces"].insert(0, {"FaceDetails": _face_detail(largest, picture), "Reasons": reasons})
            return result
        result["SearchedFace"] = {"FaceDetail": _face_detail(largest, picture)}
        result["UserMatches"] = self._user_matches(CollectionId, [largest.descriptor], UserMatchThreshold, MaxUsers)
        return result

    def _user_matches(
        self, collection: str, queries, threshold: float, limit: int, exclude: str | None = None
    ) -> list[dict]:
        owners, vectors = self.store.user_descriptors(collection)
        counts: dict[str, int] = {}
        for owner in owners:
            counts[owner] = counts.get(owner, 0) + 1
        best: dict[str, float] = {}
        for query in queries:
            for user_id, d in user_distances(owners, vectors, query, USER_MATCH_RULE).items():
                best[user_id] = min(d, best.get(user_id, math.inf))
        scored = [(similarity(d), u) for u, d in best.items() if u != exclude]
        scored = sorted((s, u) for s, u in scored if s >= threshold)
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [
            {"Similarity": s, "User": {"UserId": u, "UserStatus": _user_status(counts[u])}} for s, u in scored[:limit]
        ]

    def _user(self, collection_id: str, user_id: str):
        self._collection(collection_id)
        user = self.store.user(collection_id, user_id)
        if user is None:
            raise _user_not_found(user_id)
        return user

    def _once(self, collection_id: str, operation_name: str, token: str | None, request: dict, run) -> dict:
        """Run a request once per ClientRequestToken: a retry gets the first answer, a reuse is refused."""
        self._collection(collection_id)
        if token is None:
            return run()
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        with self._lock:
            earlier = self.store.remembered(collection_id, operation_name, token)
            if earlier is not None:
                if earlier.fingerprint != fingerprint:
                    raise IdempotentParameterMismatchException()
                return json.loads(earlier.response)
            result = run()
            self.store.remember(collection_id, operation_name, token, fingerprint, json.dumps(result))
        return result

    # Tags

    @operation("TagResource")
    def tag_resource(self, ResourceArn: str, Tags: dict) -> dict:
        collection_id = self._collection_of(ResourceArn)
        try:
            self.store.set_tags(collection_id, Tags, MAX_TAGS)
        except TooManyTags:
            raise _too_many_tags() from None
        return {}

    @operation("UntagResource")
    def untag_resource(self, ResourceArn: str, TagKeys: list[str]) -> dict:
        self.store.remove_tags(self._collection_of(ResourceArn), TagKeys)
        return {}

    @operation("ListTagsForResource")
    def list_tags_for_resource(self, ResourceArn: str) -> dict:
        return {"Tags": self.store.tags(self._collection_of(ResourceArn))}

    def _collection_of(self, arn: str) -> str:
        """The collection an ARN of ours names (with or without the 'arn:' that CreateCollection's example lacks)."""
        prefix = self._arn("")
        full = arn if arn.startswith("arn:") else "arn:" + arn
        collection_id = full[len(prefix) :] if full.startswith(prefix) else ""
        if not collection_id or self.store.collection(collection_id) is None:
            raise ResourceNotFoundException(f"The resource {arn} does not exist")
        return collection_id

    # Search

    @operation("SearchFaces")
    def search_faces(
        self, CollectionId: str, FaceId: str, MaxFaces: int = 80, FaceMatchThreshold: float = DEFAULT_THRESHOLD
    ) -> dict:
        self._collection(CollectionId)
        found = self.store.face(CollectionId, FaceId)
        if found is None:
            raise InvalidParameterException(f"The face id {FaceId} was not found in the collection.")
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
        picture, found = self._analyse(Image)
        if not found:
            raise InvalidParameterException("There are no faces in the image. Should be at least 1.")
        largest = found[0]  # find_faces sorts largest first, as Rekognition picks the largest
        if QUALITY_BARS[QualityFilter].reasons(largest, picture):
            raise InvalidParameterException("The largest face in the image did not pass the quality filter.")
        matches = self._matches(CollectionId, largest.descriptor, FaceMatchThreshold, MaxFaces)
        return {
            "SearchedFaceBoundingBox": largest.box.ratios(picture.width, picture.height).to_aws(),
            "SearchedFaceConfidence": largest.confidence,
            "FaceMatches": matches,
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    @operation("DetectFaces")
    def detect_faces(self, Image: dict, Attributes: list[str] | None = None) -> dict:
        picture, found = self._analyse(Image)
        return {"FaceDetails": self._face_details(picture, found, Attributes)}

    def _face_details(self, picture: facelib.Picture, faces: list[facelib.Face], attributes: list[str] | None) -> list:
        """The FaceDetail of each face, with the attributes asked for that this engine answers."""
        details = [_face_detail(face, picture, attributes) for face in faces]
        if {"ALL", "GENDER"} & set(attributes or []):
            genders = self.gender.genders(picture.pixels, [face.box for face in faces])
            for detail, (value, confidence) in zip(details, genders, strict=True):
                detail["Gender"] = {"Value": value, "Confidence": confidence}
        return details

    @operation("CompareFaces")
    def compare_faces(
        self,
        SourceImage: dict,
        TargetImage: dict,
        SimilarityThreshold: float = DEFAULT_THRESHOLD,
        QualityFilter: str = "NONE",
    ) -> dict:
        source_picture, sources = self._analyse(SourceImage)
        target_picture, targets = self._analyse(TargetImage)
        if not sources:
            raise InvalidParameterException("There are no faces in the source image.")
        source = sources[0]
        bar = QUALITY_BARS[QualityFilter]
        matches, unmatched = [], []
        for face in targets:
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
                "BoundingBox": source.box.ratios(source_picture.width, source_picture.height).to_aws(),
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

    def _analyse(self, image: dict) -> tuple[facelib.Picture, list[facelib.Face]]:
        """The image decoded and its faces found, largest first: analysed once however often it is sent."""
        found = self.analyses.analysis(self._image_bytes(image), self._fresh_analysis)
        return found.picture, found.faces

    def _fresh_analysis(self, data: bytes) -> Analysis:
        picture = _picture(data)
        return Analysis(picture, facelib.find_faces(picture, self.models()))

    def _image_bytes(self, image: dict) -> bytes:
        if "Bytes" in image:
            data = image["Bytes"]
            data = data.read() if hasattr(data, "read") else bytes(data)
            if not data:
                # boto3 sends empty bytes; Rekognition's own validation refuses them.
                raise InvalidParameterException(
                    "1 validation error detected: Value at 'image.bytes' failed to satisfy constraint: "
                    "Member must have length greater than or equal to 1",
                )
            if len(data) > MAX_IMAGE_BYTES:
                raise ImageTooLargeException("Image size is too large. The limit is 5 MB as bytes.")
            return data
        if "S3Object" in image:
            return self._s3_bytes(image["S3Object"])
        raise InvalidParameterException("The image must have either Bytes or S3Object.")

    def _s3_bytes(self, ref: dict) -> bytes:
        bad = InvalidS3ObjectException()
        if self.s3 is None or not ref.get("Bucket") or not ref.get("Name"):
            raise bad
        where = {"Bucket": ref["Bucket"], "Key": ref["Name"]}
        if ref.get("Version"):
            where["VersionId"] = ref["Version"]
        try:
            head = self.s3.head_object(**where)
            # A store that keeps no versions ignores VersionId: the version must be the one asked for.
            if ref.get("Version") and head.get("VersionId") != ref["Version"]:
                raise InvalidS3ObjectException(
                    f"Version {ref['Version']} of s3://{ref['Bucket']}/{ref['Name']} was not found "
                    "(is versioning enabled on the bucket?).",
                )
            if head["ContentLength"] > MAX_S3_IMAGE_BYTES:
                raise ImageTooLargeException("Image size is too large. The limit is 15 MB in S3.")
            return self.s3.get_object(**where)["Body"].read()
        except ClientError:
            raise bad from None

    def _arn(self, collection_id: str) -> str:
        return f"arn:aws:rekognition:{self.region}:{ACCOUNT}:collection/{collection_id}"


def _picture(data: bytes) -> facelib.Picture:
    try:
        picture = facelib.decode(data)
    except facelib.ImageTooLarge as exc:
        raise ImageTooLargeException(f"Image size is too large: {exc}") from None
    except facelib.ImageError:
        raise InvalidImageFormatException() from None
    if min(picture.width, picture.height) < facelib.MIN_IMAGE_SIDE:
        raise InvalidParameterException(
            f"The minimum image dimensions are {facelib.MIN_IMAGE_SIDE} pixels for both height and width; "
            f"this image is {picture.width}x{picture.height}.",
        )
    return picture


def _not_found(collection_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The collection id: {collection_id} does not exist")


def _user_not_found(user_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The user id: {user_id} does not exist")


def _too_many_tags() -> ServiceQuotaExceededException:
    return ServiceQuotaExceededException(f"A collection can have at most {MAX_TAGS} tags.")


def _user_status(face_count: int) -> str:
    # Associations here finish within the request: a user is CREATED until it has faces, then ACTIVE.
    return "ACTIVE" if face_count else "CREATED"


def _token_to_seq(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidPaginationTokenException()
    return int(token)


def _face_json(face: StoredFace) -> dict:
    result = {
        "FaceId": face.face_id,
        "BoundingBox": face.box.to_aws(),
        "ImageId": face.image_id,
        "Confidence": face.confidence,
        "IndexFacesModelVersion": FACE_MODEL_VERSION,
    }
    if face.external_image_id is not None:
        result["ExternalImageId"] = face.external_image_id
    if face.user_id is not None:
        result["UserId"] = face.user_id
    return result


def _compared_face(
    face: facelib.Face, picture: facelib.Picture, landmarks: tuple[str, ...] = DEFAULT_LANDMARKS
) -> dict:
    return {
        "BoundingBox": face.box.ratios(picture.width, picture.height).to_aws(),
        "Confidence": face.confidence,
        "Landmarks": _landmarks_json(face, picture, landmarks),
        "Pose": {"Roll": face.pose.roll, "Yaw": face.pose.yaw, "Pitch": face.pose.pitch},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
    }


def _face_detail(face: facelib.Face, picture: facelib.Picture, attributes: list[str] | None = None) -> dict:
    """A FaceDetail with the attributes asked for that this engine measures (the README's table)."""
    wanted = set(attributes or ["DEFAULT"])
    landmarks = tuple(LANDMARK_POINTS) if "ALL" in wanted else DEFAULT_LANDMARKS
    detail = _compared_face(face, picture, landmarks)
    for name, (value, confidence) in judged_expression(face.points).items():
        if "ALL" in wanted or MEASURED_ATTRIBUTES[name] in wanted:
            detail[name] = {"Value": value, "Confidence": confidence}
    return detail


def _landmarks_json(face: facelib.Face, picture: facelib.Picture, names: tuple[str, ...]) -> list[dict]:
    points = named_landmarks(face.points, names)
    return [{"Type": name, "X": x / picture.width, "Y": y / picture.height} for name, (x, y) in points.items()]
