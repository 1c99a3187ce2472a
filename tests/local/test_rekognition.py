"""The local Rekognition engine, driven through boto3's interface on real photographs."""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import subprocess
import sys
import uuid
import zlib
from pathlib import Path

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError
from PIL import Image, ImageEnhance, ImageFilter

from facerec import faces as facelib
from facerec.local.rekognition import LocalRekognition
from facerec.local.s3 import LocalS3
from facerec.similarity import DEFAULT_THRESHOLD
from tests.conftest import FACES_DIR, ROOT, jpeg, people, photo
from tests.frames import letterbox
from tests.local.checked import CheckedClient

COLLECTION = "faces"
ALL_OPERATIONS = {
    "CreateCollection",
    "DescribeCollection",
    "ListCollections",
    "DeleteCollection",
    "IndexFaces",
    "ListFaces",
    "DeleteFaces",
    "SearchFaces",
    "SearchFacesByImage",
    "DetectFaces",
    "CompareFaces",
    "CreateUser",
    "DeleteUser",
    "ListUsers",
    "AssociateFaces",
    "DisassociateFaces",
    "SearchUsers",
    "SearchUsersByImage",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
}


@pytest.fixture
def s3(data_dir: Path) -> LocalS3:
    client = LocalS3(data_dir)
    client.create_bucket(Bucket="photos")
    return client


@pytest.fixture
def rekognition(data_dir: Path, s3: LocalS3, engine_models) -> CheckedClient:
    client = CheckedClient(LocalRekognition(data_dir, s3=s3, models=engine_models))
    client.create_collection(CollectionId=COLLECTION)
    return client


@pytest.fixture(scope="module")
def enrolled_folder(tmp_path_factory: pytest.TempPathFactory, engine_models) -> Path:
    """A data folder with everyone in ../shared/faces/people enrolled from their first photo: indexed once
    for the module, copied for each test that needs it."""
    folder = tmp_path_factory.mktemp("enrolled") / "data"
    s3 = LocalS3(folder)
    s3.create_bucket(Bucket="photos")
    engine = LocalRekognition(folder, s3=s3, models=engine_models)
    engine.create_collection(CollectionId=COLLECTION)
    for name, photos in people().items():
        image = {"Bytes": photos[0].read_bytes()}
        result = engine.index_faces(CollectionId=COLLECTION, Image=image, ExternalImageId=name)
        assert len(result["FaceRecords"]) == 1, name
    engine.store.close()  # all of it in the database file, none left in its write-ahead log
    return folder


@pytest.fixture
def enrolled(data_dir: Path, enrolled_folder: Path, engine_models) -> CheckedClient:
    shutil.copytree(enrolled_folder, data_dir)
    return CheckedClient(LocalRekognition(data_dir, s3=LocalS3(data_dir), models=engine_models))


def face_ids(client: CheckedClient) -> list[str]:
    return [f["FaceId"] for f in client.list_faces(CollectionId=COLLECTION)["Faces"]]


def best_match(client: CheckedClient, image: bytes) -> dict | None:
    matches = client.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": image})["FaceMatches"]
    return matches[0] if matches else None


# Collections


def test_collection_lifecycle(rekognition: CheckedClient) -> None:
    with pytest.raises(ClientError) as exc:
        rekognition.create_collection(CollectionId=COLLECTION)
    assert exc.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"

    rekognition.create_collection(CollectionId="second")
    described = rekognition.describe_collection(CollectionId=COLLECTION)
    assert described["FaceCount"] == 0
    assert described["CollectionARN"].endswith(f":collection/{COLLECTION}")

    first = rekognition.list_collections(MaxResults=1)
    second = rekognition.list_collections(MaxResults=1, NextToken=first["NextToken"])
    assert first["CollectionIds"] + second["CollectionIds"] == ["faces", "second"]
    assert "NextToken" not in second

    rekognition.delete_collection(CollectionId="second")
    with pytest.raises(rekognition._client.exceptions.ResourceNotFoundException):
        rekognition.describe_collection(CollectionId="second")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        rekognition.delete_collection(CollectionId="second")


def test_collection_id_is_checked_against_rekognitions_pattern(rekognition: CheckedClient) -> None:
    with pytest.raises(ClientError, match="ValidationException") as raised:
        rekognition.create_collection(CollectionId="no spaces/or slashes")
    assert raised.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'no spaces/or slashes' at 'collectionId' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"
    )


def test_operations_on_a_missing_collection_fail(rekognition: CheckedClient) -> None:
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        rekognition.index_faces(CollectionId="missing", Image={"Bytes": photo("people/joe_biden/biden1.jpg")})
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        rekognition.list_faces(CollectionId="missing")


# Recognition on real photographs


def test_every_other_photo_finds_its_person(enrolled: CheckedClient) -> None:
    checked = 0
    for name, photos in people().items():
        for other in photos[1:]:
            match = best_match(enrolled, other.read_bytes())
            assert match is not None, other
            assert match["Face"]["ExternalImageId"] == name, other
            assert match["Similarity"] >= DEFAULT_THRESHOLD
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("stranger", ["joe_biden", "rose_leslie"])
def test_a_person_not_enrolled_has_no_match(rekognition: CheckedClient, stranger: str) -> None:
    for name, photos in people().items():
        if name != stranger:
            rekognition.index_faces(
                CollectionId=COLLECTION, Image={"Bytes": photos[0].read_bytes()}, ExternalImageId=name
            )
    for candidate in people()[stranger]:
        assert best_match(rekognition, candidate.read_bytes()) is None


def test_webcam_sized_frames_are_recognised(enrolled: CheckedClient) -> None:
    frame = jpeg(letterbox(photo("people/kit_harington/kit2.jpg")))
    match = best_match(enrolled, frame)
    assert match and match["Face"]["ExternalImageId"] == "kit_harington"


def test_search_uses_the_largest_face_of_a_group(enrolled: CheckedClient) -> None:
    result = enrolled.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": photo("groups/kit_and_rose.jpg")})
    box = result["SearchedFaceBoundingBox"]
    detected = enrolled.detect_faces(Image={"Bytes": photo("groups/kit_and_rose.jpg")})["FaceDetails"]
    largest = max(detected, key=lambda d: d["BoundingBox"]["Width"] * d["BoundingBox"]["Height"])
    assert box == largest["BoundingBox"]
    # The largest face cut out alone names who the group search must name: a search that
    # reported the largest face's box but matched another face's descriptor would differ.
    alone = best_match(enrolled, jpeg(face_crop(photo("groups/kit_and_rose.jpg"), box)))
    assert alone and result["FaceMatches"][0]["Face"]["ExternalImageId"] == alone["Face"]["ExternalImageId"]


def face_crop(picture: bytes, box: dict[str, float]) -> Image.Image:
    """The face in `box` (Rekognition ratios) with a face-sized margin all round, so it is still detected."""
    image = Image.fromarray(facelib.decode(picture).pixels)  # upright, as EXIF says
    w, h = image.size
    left, top = box["Left"] * w, box["Top"] * h
    width, height = box["Width"] * w, box["Height"] * h
    return image.crop(
        (
            int(max(0, left - width)),
            int(max(0, top - height)),
            int(min(w, left + 2 * width)),
            int(min(h, top + 2 * height)),
        )
    )


def test_group_photo_indexes_every_face_and_respects_max_faces(rekognition: CheckedClient) -> None:
    group = {"Bytes": photo("groups/obama_and_biden_2.jpg")}
    everyone = rekognition.index_faces(CollectionId=COLLECTION, Image=group, QualityFilter="NONE")
    assert len(everyone["FaceRecords"]) == 3
    assert len({r["Face"]["ImageId"] for r in everyone["FaceRecords"]}) == 1

    capped = rekognition.index_faces(CollectionId=COLLECTION, Image=group, MaxFaces=2, QualityFilter="NONE")
    assert len(capped["FaceRecords"]) == 2
    assert [u["Reasons"] for u in capped["UnindexedFaces"]] == [["EXCEEDS_MAX_FACES"]]
    # The largest faces are the ones kept.
    kept = min(r["FaceDetail"]["BoundingBox"]["Width"] for r in capped["FaceRecords"])
    dropped = capped["UnindexedFaces"][0]["FaceDetail"]["BoundingBox"]["Width"]
    assert kept >= dropped
    assert rekognition.describe_collection(CollectionId=COLLECTION)["FaceCount"] == 5


def test_group_photo_names_both_people(enrolled: CheckedClient) -> None:
    detected = enrolled.detect_faces(Image={"Bytes": photo("groups/obama_and_biden_1.jpg")})["FaceDetails"]
    assert len(detected) == 2
    indexed = enrolled.index_faces(
        CollectionId=COLLECTION, Image={"Bytes": photo("groups/obama_and_biden_1.jpg")}, ExternalImageId="group"
    )
    names = set()
    for record in indexed["FaceRecords"]:
        matches = enrolled.search_faces(CollectionId=COLLECTION, FaceId=record["Face"]["FaceId"])["FaceMatches"]
        names.add(next(m["Face"]["ExternalImageId"] for m in matches if m["Face"]["ExternalImageId"] != "group"))
    assert names == {"barack_obama", "joe_biden"}


def test_search_faces_excludes_the_face_itself(enrolled: CheckedClient) -> None:
    record = enrolled.index_faces(
        CollectionId=COLLECTION, Image={"Bytes": photo("people/barack_obama/obama3.jpg")}, ExternalImageId="again"
    )["FaceRecords"][0]["Face"]
    result = enrolled.search_faces(CollectionId=COLLECTION, FaceId=record["FaceId"])
    ids = [m["Face"]["FaceId"] for m in result["FaceMatches"]]
    assert record["FaceId"] not in ids
    assert result["FaceMatches"][0]["Face"]["ExternalImageId"] == "barack_obama"


def test_compare_faces_splits_matches_from_the_rest(rekognition: CheckedClient) -> None:
    result = rekognition.compare_faces(
        SourceImage={"Bytes": photo("people/joe_biden/biden2.jpg")},
        TargetImage={"Bytes": photo("groups/obama_and_biden_1.jpg")},
    )
    assert len(result["FaceMatches"]) == 1
    assert len(result["UnmatchedFaces"]) == 1
    assert result["FaceMatches"][0]["Similarity"] >= DEFAULT_THRESHOLD


def test_detect_faces_reports_landmarks_inside_the_box(rekognition: CheckedClient) -> None:
    (face,) = rekognition.detect_faces(Image={"Bytes": photo("people/barack_obama/obama1.jpg")})["FaceDetails"]
    box = face["BoundingBox"]
    # Rekognition's five default landmarks.
    assert [lm["Type"] for lm in face["Landmarks"]] == ["eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose"]
    for lm in face["Landmarks"]:
        assert box["Left"] <= lm["X"] <= box["Left"] + box["Width"]
        assert box["Top"] <= lm["Y"] <= box["Top"] + box["Height"]
    marks = {lm["Type"]: lm for lm in face["Landmarks"]}
    # As in AWS's documented IndexFaces example (botocore's examples-1.json): eyeLeft is the eye on the image's left.
    documented = aws_example_landmarks()
    assert documented["eyeLeft"]["X"] < documented["eyeRight"]["X"]
    assert marks["eyeLeft"]["X"] < marks["eyeRight"]["X"]
    assert marks["mouthLeft"]["X"] < marks["mouthRight"]["X"]
    assert max(marks["eyeLeft"]["Y"], marks["eyeRight"]["Y"]) < marks["nose"]["Y"]
    assert marks["nose"]["Y"] < min(marks["mouthLeft"]["Y"], marks["mouthRight"]["Y"])
    # The mouth corners lie between the eyes' verticals, give or take, on a frontal face.
    assert marks["eyeLeft"]["X"] - 0.3 * box["Width"] < marks["mouthLeft"]["X"] < marks["nose"]["X"]
    assert marks["nose"]["X"] < marks["mouthRight"]["X"] < marks["eyeRight"]["X"] + 0.3 * box["Width"]
    assert abs(face["Pose"]["Yaw"]) < 20 and abs(face["Pose"]["Roll"]) < 20
    assert face["Confidence"] > 99


def test_detect_faces_with_all_attributes_answers_what_it_measures(rekognition: CheckedClient) -> None:
    image = {"Bytes": photo("people/barack_obama/obama1.jpg")}
    (face,) = rekognition.detect_faces(Image=image, Attributes=["ALL"])["FaceDetails"]
    marks = {lm["Type"]: (lm["X"], lm["Y"]) for lm in face["Landmarks"]}
    assert list(marks) == rekognition_model().shape_for("LandmarkType").enum
    box = face["BoundingBox"]
    # On the face: the jaw and the chin reach a little past the detector's box.
    for x, y in marks.values():
        assert box["Left"] - 0.1 * box["Width"] <= x <= box["Left"] + 1.1 * box["Width"]
        assert box["Top"] - 0.1 * box["Height"] <= y <= box["Top"] + 1.3 * box["Height"]
    # Left and right as the image shows them, from the outer corner of one eye to the other's.
    xs = [marks[name][0] for name in ("leftEyeLeft", "leftEyeRight", "rightEyeLeft", "rightEyeRight")]
    assert xs == sorted(xs)
    assert marks["leftEyeBrowUp"][1] < marks["leftEyeUp"][1] < marks["leftPupil"][1] < marks["leftEyeDown"][1]
    assert marks["mouthUp"][1] < marks["mouthDown"][1] < marks["chinBottom"][1]
    # Obama smiles at the camera, showing his teeth, eyes open.
    assert face["Smile"]["Value"] and face["MouthOpen"]["Value"] and face["EyesOpen"]["Value"]
    assert face["Gender"]["Value"] == "Male"
    # What needs a trained model we do not have is left out, not guessed.
    assert not {"AgeRange", "Emotions", "Eyeglasses", "Sunglasses", "Beard", "Mustache"} & set(face)


def test_detect_faces_answers_an_attribute_asked_for_by_name(rekognition: CheckedClient) -> None:
    image = {"Bytes": photo("people/kit_harington/kit1.jpg")}
    (face,) = rekognition.detect_faces(Image=image, Attributes=["SMILE"])["FaceDetails"]
    assert face["Smile"]["Value"] is False
    assert "EyesOpen" not in face and "MouthOpen" not in face and "Gender" not in face
    assert len(face["Landmarks"]) == 5
    (plain,) = rekognition.detect_faces(Image=image)["FaceDetails"]
    assert "Smile" not in plain


def rekognition_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("rekognition")


def aws_example_landmarks() -> dict:
    """The landmarks of the first face in AWS's documented IndexFaces example."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    examples = loader.load_service_model("rekognition", "examples-1")["examples"]
    landmarks = examples["IndexFaces"][0]["output"]["FaceRecords"][0]["FaceDetail"]["Landmarks"]
    return {lm["Type"]: lm for lm in landmarks}


def test_exif_orientation_is_respected(rekognition: CheckedClient) -> None:
    upright = Image.open(io.BytesIO(photo("people/barack_obama/obama1.jpg")))
    (plain,) = rekognition.detect_faces(Image={"Bytes": jpeg(upright)})["FaceDetails"]
    # Store the pixels turned on their side, with the EXIF tag that says how to turn them back.
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    upright.rotate(90, expand=True).save(out, "JPEG", exif=exif.tobytes())
    (tagged,) = rekognition.detect_faces(Image={"Bytes": out.getvalue()})["FaceDetails"]
    assert tagged["BoundingBox"]["Left"] == pytest.approx(plain["BoundingBox"]["Left"], abs=0.03)
    assert tagged["BoundingBox"]["Top"] == pytest.approx(plain["BoundingBox"]["Top"], abs=0.03)


def test_rgba_png_and_small_frames_are_accepted(enrolled: CheckedClient) -> None:
    for edge in ["edge/obama_rgba_32bit.png", "edge/obama_240p.jpg", "edge/obama_1080p.jpg"]:
        match = best_match(enrolled, photo(edge))
        assert match and match["Face"]["ExternalImageId"] == "barack_obama", edge


# Quality filter


def test_quality_filter_rejects_blur_with_low_sharpness(rekognition: CheckedClient) -> None:
    blurred = Image.open(FACES_DIR / "people/barack_obama/obama1.jpg").filter(ImageFilter.GaussianBlur(4))
    image = {"Bytes": jpeg(blurred)}
    result = rekognition.index_faces(CollectionId=COLLECTION, Image=image, QualityFilter="MEDIUM")
    assert result["FaceRecords"] == []
    assert "LOW_SHARPNESS" in result["UnindexedFaces"][0]["Reasons"]
    assert len(rekognition.index_faces(CollectionId=COLLECTION, Image=image, QualityFilter="NONE")["FaceRecords"]) == 1


def test_quality_filter_rejects_darkness_and_small_faces(rekognition: CheckedClient) -> None:
    original = Image.open(FACES_DIR / "people/barack_obama/obama_720p.jpg")
    dark = ImageEnhance.Brightness(original).enhance(0.25)
    result = rekognition.index_faces(CollectionId=COLLECTION, Image={"Bytes": jpeg(dark)}, QualityFilter="HIGH")
    assert "LOW_BRIGHTNESS" in result["UnindexedFaces"][0]["Reasons"]

    small = original.resize((original.width // 3, original.height // 3))  # a face some 60 px wide
    result = rekognition.index_faces(CollectionId=COLLECTION, Image={"Bytes": jpeg(small)}, QualityFilter="HIGH")
    assert result["UnindexedFaces"] and "SMALL_BOUNDING_BOX" in result["UnindexedFaces"][0]["Reasons"]
    assert rekognition.describe_collection(CollectionId=COLLECTION)["FaceCount"] == 0


def test_every_valid_photo_passes_the_default_filter(rekognition: CheckedClient) -> None:
    valid = [path for person in people().values() for path in person] + sorted((FACES_DIR / "edge").iterdir())
    for path in valid:
        result = rekognition.index_faces(CollectionId=COLLECTION, Image={"Bytes": path.read_bytes()})
        assert len(result["FaceRecords"]) == 1, (path, result["UnindexedFaces"])


# Bad input


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(out, "PNG")
    return out.getvalue()


def oversized_jpeg() -> bytes:
    noise = Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3))
    data = jpeg(noise, quality=100)
    assert len(data) > 5 * 1024 * 1024
    return data


BAD_IMAGES = {
    "text": (lambda: b"this is not an image", "InvalidImageFormatException"),
    "truncated JPEG": (lambda: photo("people/joe_biden/biden1.jpg")[:20000], "InvalidImageFormatException"),
    "GIF": (lambda: _gif(), "InvalidImageFormatException"),
    "1x1 image": (tiny_png, "InvalidParameterException"),
    # AWS's front end refuses it by the model's length limit, before the service sees it.
    "over 5 MB": (oversized_jpeg, "ValidationException"),
    "30000x30000 PNG header": (lambda: png_claiming(30000, 30000), "ImageTooLargeException"),
}


def _gif() -> bytes:
    out = io.BytesIO()
    Image.open(FACES_DIR / "people/joe_biden/biden1.jpg").save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize("kind", BAD_IMAGES)
def test_bad_images_get_rekognitions_error_and_change_nothing(enrolled: CheckedClient, kind: str) -> None:
    make, code = BAD_IMAGES[kind]
    data = make()
    before = face_ids(enrolled)
    for call in (
        lambda: enrolled.index_faces(CollectionId=COLLECTION, Image={"Bytes": data}, ExternalImageId="bad"),
        lambda: enrolled.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": data}),
        lambda: enrolled.detect_faces(Image={"Bytes": data}),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == code
    assert face_ids(enrolled) == before


def test_empty_bytes_are_a_validation_error(enrolled: CheckedClient) -> None:
    before = face_ids(enrolled)
    with pytest.raises(ClientError, match="ValidationException") as raised:
        enrolled.index_faces(CollectionId=COLLECTION, Image={"Bytes": b""})
    assert (
        "at 'image.bytes' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in (raised.value.response["Error"]["Message"])
    )
    assert face_ids(enrolled) == before


def test_parameters_are_validated_as_botocore_does(enrolled: CheckedClient) -> None:
    with pytest.raises(ParamValidationError, match="MaxFaces"):
        enrolled.index_faces(CollectionId=COLLECTION, Image={"Bytes": b"x"}, MaxFaces=0)
    with pytest.raises(ParamValidationError, match="CollectionId"):
        enrolled.search_faces_by_image(Image={"Bytes": b"x"})


def test_search_with_no_face_is_an_invalid_parameter(enrolled: CheckedClient) -> None:
    landscape = jpeg(Image.new("RGB", (640, 480), (90, 140, 200)))
    with pytest.raises(ClientError, match="InvalidParameterException"):
        enrolled.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": landscape})
    result = enrolled.index_faces(CollectionId=COLLECTION, Image={"Bytes": landscape})
    assert result["FaceRecords"] == [] and result["UnindexedFaces"] == []


@pytest.mark.parametrize("external_id", ["Zoë Ñúñez", "has space", "slash/name"])
def test_external_image_id_follows_rekognitions_pattern(rekognition: CheckedClient, external_id: str) -> None:
    with pytest.raises(ClientError, match="ValidationException"):
        rekognition.index_faces(
            CollectionId=COLLECTION, Image={"Bytes": photo("people/joe_biden/biden1.jpg")}, ExternalImageId=external_id
        )
    assert face_ids(rekognition) == []


# Images from S3


def test_images_are_read_from_s3(rekognition: CheckedClient, s3: LocalS3) -> None:
    s3.put_object(Bucket="photos", Key="index/joe biden/1.jpg", Body=photo("people/joe_biden/biden1.jpg"))
    result = rekognition.index_faces(
        CollectionId=COLLECTION, Image={"S3Object": {"Bucket": "photos", "Name": "index/joe biden/1.jpg"}}
    )
    assert len(result["FaceRecords"]) == 1
    for missing in ({"Bucket": "photos", "Name": "nope.jpg"}, {"Bucket": "nobucket", "Name": "x.jpg"}):
        with pytest.raises(ClientError, match="InvalidS3ObjectException"):
            rekognition.search_faces_by_image(CollectionId=COLLECTION, Image={"S3Object": missing})


def test_an_s3_object_version_the_bucket_does_not_keep_is_refused(rekognition: CheckedClient, s3: LocalS3) -> None:
    s3.put_object(Bucket="photos", Key="biden.jpg", Body=photo("people/joe_biden/biden1.jpg"))
    ref = {"Bucket": "photos", "Name": "biden.jpg"}
    assert len(rekognition.detect_faces(Image={"S3Object": ref})["FaceDetails"]) == 1
    # The local S3 keeps no versions: a Version is not silently ignored.
    with pytest.raises(ClientError, match="InvalidS3ObjectException") as raised:
        rekognition.index_faces(CollectionId=COLLECTION, Image={"S3Object": {**ref, "Version": "v2"}})
    assert "Version v2" in raised.value.response["Error"]["Message"]
    assert face_ids(rekognition) == []


def test_users_persist_and_go_with_their_faces_and_collection(data_dir: Path, s3: LocalS3, engine_models) -> None:
    engine = CheckedClient(LocalRekognition(data_dir, s3=s3, models=engine_models))
    engine.create_collection(CollectionId="kept", Tags={"purpose": "test"})
    everyone = people()
    face = engine.index_faces(CollectionId="kept", Image={"Bytes": everyone["joe_biden"][0].read_bytes()})
    face_id = face["FaceRecords"][0]["Face"]["FaceId"]
    engine.create_user(CollectionId="kept", UserId="joe")
    engine.associate_faces(CollectionId="kept", UserId="joe", FaceIds=[face_id])
    again = CheckedClient(LocalRekognition(data_dir, s3=s3, models=engine_models))  # another process would see the same
    assert again.list_users(CollectionId="kept")["Users"] == [{"UserId": "joe", "UserStatus": "ACTIVE"}]
    assert again.list_faces(CollectionId="kept", UserId="joe")["Faces"][0]["UserId"] == "joe"
    arn = again.describe_collection(CollectionId="kept")["CollectionARN"]
    assert again.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"purpose": "test"}
    # Deleting the user keeps the face, unassociated; the collection takes users and tags with it.
    again.delete_user(CollectionId="kept", UserId="joe")
    assert "UserId" not in again.list_faces(CollectionId="kept")["Faces"][0]
    again.create_user(CollectionId="kept", UserId="joe2")
    again.delete_collection(CollectionId="kept")
    again.create_collection(CollectionId="kept")
    assert again.list_users(CollectionId="kept")["Users"] == []
    assert again.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}
    assert again.describe_collection(CollectionId="kept")["UserCount"] == 0


def test_a_user_has_at_most_100_faces(rekognition: CheckedClient) -> None:
    import numpy as np

    from facerec.boxes import RatioBox
    from facerec.local.store import NewFace, StoredFace

    engine = rekognition._client
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.09, 128).astype(np.float32)
    ids = [str(uuid.uuid4()) for _ in range(101)]
    engine.store.add_faces(
        COLLECTION,
        [
            NewFace(StoredFace(i, "img", None, RatioBox(0.1, 0.1, 0.2, 0.2), 99.0), base + 0.001 * n)
            for n, i in enumerate(ids)
        ],
    )
    rekognition.create_user(CollectionId=COLLECTION, UserId="many")
    assert (
        len(rekognition.associate_faces(CollectionId=COLLECTION, UserId="many", FaceIds=ids[:100])["AssociatedFaces"])
        == 100
    )
    with pytest.raises(ClientError, match="ServiceQuotaExceededException"):
        rekognition.associate_faces(CollectionId=COLLECTION, UserId="many", FaceIds=ids[100:])
    assert len(rekognition.list_faces(CollectionId=COLLECTION, UserId="many")["Faces"]) == 100


def test_user_matching_rule_separates_people_on_shared_faces(descriptors) -> None:
    """The rule the engine uses (USER_MATCH_RULE) against the other, leave-one-out on ../shared/faces."""
    import numpy as np

    from facerec.local.rekognition import USER_MATCH_RULE, user_distances

    labelled = [(name, descriptors[str(p.relative_to(FACES_DIR))]) for name, paths in people().items() for p in paths]
    margins = {}
    for rule in ("nearest", "mean"):
        genuine, impostor = [], []
        for index, (name, query) in enumerate(labelled):
            owners = [n for i, (n, _) in enumerate(labelled) if i != index]
            vectors = np.stack([d for i, (_, d) in enumerate(labelled) if i != index])
            distances = user_distances(owners, vectors, query, rule)
            if name in distances:
                genuine.append(distances[name])
                impostor += [d for other, d in distances.items() if other != name]
        margins[rule] = min(impostor) - max(genuine)
    print(f"margin between people (impostor min - genuine max): {margins}")
    assert margins[USER_MATCH_RULE] == max(margins.values()) and margins[USER_MATCH_RULE] > 0


def test_a_user_is_matched_by_the_mean_of_its_faces(rekognition: CheckedClient, descriptors) -> None:
    """SearchUsersByImage and SearchUsers score a user by its faces' mean descriptor, the rule measured above."""
    import numpy as np

    from facerec.similarity import similarity

    members = {"obama": ["obama1.jpg", "obama2.jpg", "obama3.jpg"], "biden": ["biden1.jpg", "biden2.jpg"]}
    folders = {"obama": "people/barack_obama", "biden": "people/joe_biden"}
    of_user: dict[str, list] = {}
    for user, names in members.items():
        rekognition.create_user(CollectionId=COLLECTION, UserId=user)
        ids = []
        for name in names:
            data = photo(f"{folders[user]}/{name}")
            ids.append(rekognition.index_faces(CollectionId=COLLECTION, Image={"Bytes": data})["FaceRecords"][0])
            of_user.setdefault(user, []).append(descriptors[f"{folders[user]}/{name}"])
        rekognition.associate_faces(CollectionId=COLLECTION, UserId=user, FaceIds=[r["Face"]["FaceId"] for r in ids])
    probe = photo("people/barack_obama/obama4.jpg")  # a photo of neither user's faces
    query = descriptors["people/barack_obama/obama4.jpg"]
    expected = {user: similarity(float(np.linalg.norm(np.mean(d, axis=0) - query))) for user, d in of_user.items()}
    nearest = {user: similarity(min(float(np.linalg.norm(v - query)) for v in d)) for user, d in of_user.items()}
    assert max(abs(expected[u] - nearest[u]) for u in members) > 0.5  # the probe tells the two rules apart

    found = rekognition.search_users_by_image(CollectionId=COLLECTION, Image={"Bytes": probe}, UserMatchThreshold=0)
    scores = {m["User"]["UserId"]: m["Similarity"] for m in found["UserMatches"]}
    assert list(scores) == ["obama", "biden"]  # best first
    assert scores == pytest.approx(expected, abs=1e-3)
    # SearchUsers from a user: the others, by the distance between the two users' means.
    by_user = rekognition.search_users(CollectionId=COLLECTION, UserId="obama", UserMatchThreshold=0)
    between = similarity(float(np.linalg.norm(np.mean(of_user["obama"], 0) - np.mean(of_user["biden"], 0))))
    matches = [(m["User"]["UserId"], m["Similarity"]) for m in by_user["UserMatches"]]
    assert matches == [("biden", pytest.approx(between, abs=1e-3))]


def test_s3_images_over_15_mb_are_too_large(rekognition: CheckedClient, s3: LocalS3) -> None:
    s3.put_object(Bucket="photos", Key="huge.jpg", Body=b"\xff\xd8" + b"\0" * (15 * 1024 * 1024 + 1))
    with pytest.raises(ClientError, match="ImageTooLargeException"):
        rekognition.index_faces(CollectionId=COLLECTION, Image={"S3Object": {"Bucket": "photos", "Name": "huge.jpg"}})


# Faces: listing, deleting, persistence


def test_list_faces_paginates_and_delete_faces_removes_them(enrolled: CheckedClient) -> None:
    pages = list(
        enrolled._client.get_paginator("list_faces").paginate(CollectionId=COLLECTION, PaginationConfig={"PageSize": 4})
    )
    listed = [f for page in pages for f in page["Faces"]]
    assert len(pages) == 2 and len(listed) == len(people())

    obama = [f["FaceId"] for f in listed if f["ExternalImageId"] == "barack_obama"]
    deleted = enrolled.delete_faces(CollectionId=COLLECTION, FaceIds=obama)
    assert deleted["DeletedFaces"] == obama
    assert best_match(enrolled, photo("people/barack_obama/obama2.jpg")) is None
    match = best_match(enrolled, photo("people/joe_biden/biden2.jpg"))
    assert match and match["Face"]["ExternalImageId"] == "joe_biden"


def test_faces_persist_and_other_processes_see_changes(data_dir: Path, enrolled: CheckedClient) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from facerec.local.rekognition import LocalRekognition; from pathlib import Path;"
        "from facerec.faces import LazyModels; from facerec.settings import load;"
        "r = LocalRekognition(Path(sys.argv[2]), LazyModels(load(env_file=None).models));"
        "m = r.search_faces_by_image(CollectionId='faces', Image={'Bytes': open(sys.argv[3], 'rb').read()});"
        "print(m['FaceMatches'][0]['Face']['ExternalImageId']);"
        "ids = [f['FaceId'] for f in r.list_faces(CollectionId='faces')['Faces'] "
        "if f['ExternalImageId'] == 'rose_leslie'];"
        "r.delete_faces(CollectionId='faces', FaceIds=ids)"
    )
    # This process loads its in-memory matrix before the other process deletes.
    assert best_match(enrolled, photo("people/rose_leslie/rose2.jpg"))["Face"]["ExternalImageId"] == "rose_leslie"
    out = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(data_dir), str(FACES_DIR / "people/rose_leslie/rose2.jpg")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "rose_leslie"
    assert best_match(enrolled, photo("people/rose_leslie/rose2.jpg")) is None


def test_data_is_private_to_its_owner(data_dir: Path, enrolled: CheckedClient) -> None:
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "s3").stat().st_mode) == 0o700
    for name in ["rekognition.sqlite3", "s3/index.sqlite3"]:
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600


# Shapes


def test_every_operation_answers_in_botocores_shapes(enrolled: CheckedClient) -> None:
    image = {"Bytes": photo("people/alex_lacamoire/alex2.jpg")}
    enrolled.create_collection(CollectionId="another", Tags={"made": "here"})
    enrolled.describe_collection(CollectionId=COLLECTION)
    enrolled.list_collections()
    face_id = enrolled.index_faces(CollectionId=COLLECTION, Image=image, DetectionAttributes=["ALL"])["FaceRecords"][0][
        "Face"
    ]["FaceId"]
    enrolled.list_faces(CollectionId=COLLECTION, MaxResults=2)
    enrolled.search_faces(CollectionId=COLLECTION, FaceId=face_id)
    enrolled.search_faces_by_image(CollectionId=COLLECTION, Image=image, QualityFilter="AUTO")
    enrolled.detect_faces(Image=image, Attributes=["ALL"])
    enrolled.compare_faces(SourceImage=image, TargetImage={"Bytes": photo("groups/kit_and_rose.jpg")})
    enrolled.create_user(CollectionId=COLLECTION, UserId="alex")
    enrolled.associate_faces(CollectionId=COLLECTION, UserId="alex", FaceIds=[face_id])
    enrolled.list_users(CollectionId=COLLECTION)
    enrolled.search_users(CollectionId=COLLECTION, UserId="alex")
    enrolled.search_users(CollectionId=COLLECTION, FaceId=face_id)
    enrolled.search_users_by_image(CollectionId=COLLECTION, Image={"Bytes": photo("groups/obama_and_biden_2.jpg")})
    enrolled.search_users_by_image(CollectionId=COLLECTION, Image=image, QualityFilter="HIGH")
    enrolled.disassociate_faces(CollectionId=COLLECTION, UserId="alex", FaceIds=[face_id])
    enrolled.delete_user(CollectionId=COLLECTION, UserId="alex")
    arn = enrolled.describe_collection(CollectionId=COLLECTION)["CollectionARN"]
    enrolled.tag_resource(ResourceArn=arn, Tags={"k": "v"})
    enrolled.list_tags_for_resource(ResourceArn=arn)
    enrolled.untag_resource(ResourceArn=arn, TagKeys=["k"])
    enrolled.delete_faces(CollectionId=COLLECTION, FaceIds=[face_id, str(uuid.uuid4())])
    enrolled.delete_collection(CollectionId=COLLECTION)
    assert enrolled.seen_operations == ALL_OPERATIONS


def test_a_collection_made_again_elsewhere_is_not_confused_with_the_old_one(
    data_dir: Path, s3: LocalS3, engine_models
) -> None:
    first, second = (LocalRekognition(data_dir, s3=s3, models=engine_models) for _ in range(2))
    first.create_collection(CollectionId="c")
    first.index_faces(CollectionId="c", Image={"Bytes": photo("people/joe_biden/biden1.jpg")}, ExternalImageId="joe")
    assert first.search_faces_by_image(CollectionId="c", Image={"Bytes": photo("people/joe_biden/biden2.jpg")})[
        "FaceMatches"
    ]
    second.delete_collection(CollectionId="c")
    second.create_collection(CollectionId="c")
    second.index_faces(CollectionId="c", Image={"Bytes": photo("people/kit_harington/kit1.jpg")}, ExternalImageId="kit")
    matches = first.search_faces_by_image(CollectionId="c", Image={"Bytes": photo("people/kit_harington/kit2.jpg")})
    assert [m["Face"]["ExternalImageId"] for m in matches["FaceMatches"]] == ["kit"]


def violating_values(shape) -> list:
    """Values that break one constraint each of a scalar or list shape, as the model states them."""
    meta = shape.metadata
    kind = shape.type_name
    values = []
    if kind == "string":
        if shape.enum:
            values.append("NOT_IN_" + shape.enum[0])
        if "max" in meta:
            values.append("a" * (meta["max"] + 1))
        if meta.get("min", 0) > 0:
            values.append("")
        if "pattern" in meta and meta["pattern"].startswith("[0-9a-f]{8}"):
            values.append("not-a-uuid")
    elif kind in ("integer", "long", "float", "double"):
        if "max" in meta:
            values.append(meta["max"] * 10**20 if kind in ("integer", "long") else float(meta["max"]) + 0.5)
        if "min" in meta:
            values.append(meta["min"] - 1)
    elif kind == "list":
        if "max" in meta:
            values.append([str(uuid.uuid4())] * (meta["max"] + 1))
        values += [[v] for v in violating_values(shape.member)]
    return values


def test_every_top_level_constraint_of_every_operation_is_enforced(enrolled: CheckedClient) -> None:
    """Driven by botocore's model: each constraint of each member of each implemented operation."""
    valid = {
        "CollectionId": COLLECTION,
        "UserId": "someone",
        "FaceId": str(uuid.uuid4()),
        "FaceIds": [str(uuid.uuid4())],
        "Image": {"Bytes": photo("people/joe_biden/biden1.jpg")},
        "SourceImage": {"Bytes": photo("people/joe_biden/biden1.jpg")},
        "TargetImage": {"Bytes": photo("people/joe_biden/biden1.jpg")},
        "ResourceArn": "arn:aws:rekognition:us-east-1:000000000000:collection/faces",
        "Tags": {"k": "v"},
        "TagKeys": ["k"],
    }
    model = enrolled.model
    before = face_ids(enrolled)
    checked = 0
    for name in sorted(ALL_OPERATIONS):
        shape = model.operation_model(name).input_shape
        method = getattr(enrolled, xform_name(name))
        base = {m: valid[m] for m in shape.required_members}
        for member, member_shape in shape.members.items():
            for value in violating_values(member_shape):
                with pytest.raises((ClientError, ParamValidationError)) as raised:
                    method(**{**base, member: value})
                checked += 1
                if isinstance(raised.value, ParamValidationError):
                    # Minimums boto3 itself checks before sending, as this in-process client does.
                    assert "min" in str(raised.value) and member in str(raised.value), (name, member)
                    continue
                error = raised.value.response["Error"]
                assert error["Code"] == "ValidationException", (name, member, value)
                assert f"at '{member[0].lower() + member[1:]}' failed to satisfy constraint" in error["Message"]
    assert checked > 60
    assert face_ids(enrolled) == before


# One look per image


def count_detections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every picture the engine runs the detector on, from now on."""
    from facerec import faces as facelib

    seen: list[tuple[int, int]] = []
    find = facelib.find_faces

    def counting(picture, *args, **kwargs):
        seen.append((picture.width, picture.height))
        return find(picture, *args, **kwargs)

    monkeypatch.setattr(facelib, "find_faces", counting)
    return seen


def test_detect_then_search_of_the_same_bytes_runs_the_detector_once(
    enrolled: CheckedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    detections = count_detections(monkeypatch)
    image = {"Bytes": photo("groups/obama_and_biden_1.jpg")}
    boxes = [d["BoundingBox"] for d in enrolled.detect_faces(Image=image)["FaceDetails"]]
    searched = enrolled.search_faces_by_image(CollectionId=COLLECTION, Image=image)
    assert searched["SearchedFaceBoundingBox"] == boxes[0]
    enrolled.compare_faces(SourceImage=image, TargetImage=image)
    assert len(detections) == 1


def test_deleting_faces_forgets_the_analysed_images(rekognition: CheckedClient, monkeypatch) -> None:
    image = {"Bytes": photo("people/rose_leslie/rose1.jpg")}
    (record,) = rekognition.index_faces(CollectionId=COLLECTION, Image=image)["FaceRecords"]
    detections = count_detections(monkeypatch)
    rekognition.delete_faces(CollectionId=COLLECTION, FaceIds=[record["Face"]["FaceId"]])
    rekognition.detect_faces(Image=image)
    assert len(detections) == 1


@pytest.mark.parametrize("made_again", [False, True], ids=["deleted", "deleted and made again"])
def test_a_collection_deleted_while_a_photo_is_indexed_gets_none_of_its_faces(
    data_dir: Path, s3: LocalS3, engine_models, made_again: bool
) -> None:
    """IndexFaces racing DeleteCollection: the collection goes while the photo is analysed (the slow part)."""
    engine = LocalRekognition(data_dir, s3=s3, models=engine_models)
    client = CheckedClient(engine)
    client.create_collection(CollectionId=COLLECTION)
    analyse = engine._fresh_analysis

    def analysed_while_deleted(data: bytes):
        found = analyse(data)
        client.delete_collection(CollectionId=COLLECTION)
        if made_again:
            client.create_collection(CollectionId=COLLECTION)
        return found

    engine._fresh_analysis = analysed_while_deleted
    with pytest.raises(ClientError) as raised:
        client.index_faces(CollectionId=COLLECTION, Image={"Bytes": photo("people/joe_biden/biden2.jpg")})
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    if made_again:
        assert client.list_faces(CollectionId=COLLECTION)["Faces"] == []
