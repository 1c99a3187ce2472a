"""The app's operations end to end on both back ends: add, check, people, delete, reindex."""

from __future__ import annotations

import io
import urllib.parse
from datetime import datetime, timedelta, timezone
from functools import cache

import pytest
from PIL import Image

from facerec.errors import InvalidImage, InvalidName, NameTaken, NotEnrolled, StillIndexing
from facerec.records import PENDING, ImageItem, image_token
from facerec.service import FaceService
from tests.conftest import jpeg, people, photo, small_photo
from tests.frames import letterbox
from tests.local.test_rekognition import png_claiming


def bucket_keys(service: FaceService) -> list[str]:
    listed = service.s3.list_objects_v2(Bucket=service.settings.s3_bucket_name)
    return [o["Key"] for o in listed.get("Contents", [])]


def collection_faces(service: FaceService) -> list[str]:
    listed = service.rekognition.list_faces(CollectionId=service.settings.rekognition_collection_name)
    return [f["FaceId"] for f in listed["Faces"]]


def table_items(service: FaceService) -> list[dict]:
    return service.dynamodb.scan(TableName=service.settings.dynamodb_table_name)["Items"]


def snapshot(service: FaceService) -> tuple:
    return sorted(bucket_keys(service)), sorted(collection_faces(service)), len(table_items(service))


def test_add_check_people_delete(service: FaceService) -> None:
    for name in ("barack_obama", "joe_biden"):
        for path in people()[name][:2]:
            result = service.add(name.replace("_", " ").title(), small_photo(f"people/{name}/{path.name}"))
            assert result.ok, result
    assert [(p.name, p.face_count) for p in service.people()] == [("Barack Obama", 2), ("Joe Biden", 2)]

    (face,) = service.check(small_photo("people/barack_obama/obama4.jpg"))
    assert face.name == "Barack Obama" and face.similarity >= 80
    group = service.check(photo("groups/obama_and_biden_1.jpg"))
    assert {f.name for f in group} == {"Barack Obama", "Joe Biden"}
    (stranger,) = service.check(small_photo("people/kit_harington/kit1.jpg"))
    assert stranger.name is None

    deleted = service.delete("Barack Obama")
    assert (deleted.faces, deleted.images) == (2, 2)
    assert [p.name for p in service.people()] == ["Joe Biden"]
    assert len(bucket_keys(service)) == 2 and len(collection_faces(service)) == 2
    assert service.check(small_photo("people/barack_obama/obama4.jpg"))[0].name is None
    assert service.check(small_photo("people/joe_biden/biden2.jpg"))[0].name == "Joe Biden"


def test_a_check_looks_at_a_photo_once(backend, service: FaceService, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend.settings.backend != "local":
        pytest.skip("the detector runs in this process on the local back end only")
    from tests.local.test_rekognition import count_detections

    assert service.add("Barack Obama", small_photo("people/barack_obama/obama1.jpg")).ok
    for relative in ("people/barack_obama/obama4.jpg", "groups/obama_and_biden_1.jpg"):
        data = photo(relative)
        size = Image.open(io.BytesIO(data)).size
        detections = count_detections(monkeypatch)
        checked = service.check(data)
        assert checked[0].name == "Barack Obama"
        # The crops of a group's other faces are looked at on their own; the photo itself once.
        assert detections.count(size) == 1, relative
        assert len(detections) == len(checked), relative


@pytest.mark.parametrize("name", ["Zoë Ñúñez", "李雷", "O'Brien-Smith, Jr."])
def test_names_round_trip(service: FaceService, name: str) -> None:
    assert service.add(name, small_photo("people/rose_leslie/rose1.jpg")).ok
    assert [p.name for p in service.people()] == [name]
    assert service.check(small_photo("people/rose_leslie/rose2.jpg"))[0].name == name


def test_a_photo_without_a_usable_face_is_refused_and_leaves_nothing(service: FaceService, backend) -> None:
    before = snapshot(service)
    landscape = jpeg(Image.new("RGB", (640, 480), (120, 160, 90)))
    result = service.add("Nobody", landscape)
    assert result.status == "no_face" and not result.ok
    assert "no face" in result.message
    assert backend.idle()  # the second delivery of the event, too
    assert snapshot(service) == before


def test_a_group_photo_is_refused_for_enrolment(service: FaceService, backend) -> None:
    before = snapshot(service)
    result = service.add("Someone", photo("groups/kit_and_rose.jpg"))
    assert result.status == "several_faces"
    assert "2 faces" in result.message
    assert backend.idle()
    assert snapshot(service) == before


def test_an_add_is_indexed_once_and_keeps_its_photo(service: FaceService, backend) -> None:
    result = service.add("Joe Biden", small_photo("people/joe_biden/biden1.jpg"))
    assert result.ok and result.status == "indexed", result
    assert backend.idle()  # every delivery of the event has run, the duplicate too
    assert bucket_keys(service) == [result.image_key]
    (face_id,) = collection_faces(service)
    assert result.face_ids == (face_id,)
    kinds = sorted(item["ItemType"]["S"] for item in table_items(service))
    assert kinds == ["face", "image"]
    assert [(p.name, p.face_ids) for p in service.people()] == [("Joe Biden", (face_id,))]


def test_an_add_whose_outcome_is_late_keeps_the_photo_for_later(service: FaceService, backend) -> None:
    restore = without_notification(service)  # the event is slow to come
    result = service.add("Kit", small_photo("people/kit_harington/kit1.jpg"), timeout=1.0)
    assert result.pending and not result.ok
    assert "kept" in result.message and "1 s" in result.message
    assert bucket_keys(service) == [result.image_key]
    restore()
    assert service.reindex(grace=0.0).indexed == [result.image_key]
    assert [p.name for p in service.people()] == ["Kit"]


def test_a_photo_over_5_mb_is_checked(service: FaceService) -> None:
    assert service.add("Rose", small_photo("people/rose_leslie/rose1.jpg")).ok
    big = large_png(small_photo("people/rose_leslie/rose2.jpg"))
    assert 5 * 1024 * 1024 < len(big) <= 15 * 1024 * 1024
    (face,) = service.check(big)
    assert face.name == "Rose"
    assert service.add("Rose", big).ok  # and added, through S3, where 15 MB is the limit


def test_a_photo_over_15_mb_is_added_as_it_is_checked(service: FaceService) -> None:
    # So grainy that even as a JPEG it is over 5 MB.
    huge = large_png(small_photo("people/rose_leslie/rose2.jpg"), side=3400, grain=127)
    assert len(huge) > 15 * 1024 * 1024
    # Searched within 5 MB for bytes, uploaded within 15 MB for S3: no AWS limit is met, none is named.
    assert service.find_duplicates("Rose", huge) == []
    assert service.add("Rose", huge).ok
    (face,) = service.check(huge)
    assert face.name == "Rose"


def tiny_photo(side: int = 60) -> bytes:
    image = Image.open(io.BytesIO(photo("people/rose_leslie/rose1.jpg"))).convert("RGB")
    return jpeg(image.resize((side, side)))


# Each bad file, and what the person is told about it.
BAD_FILES = {
    "empty": (lambda: b"", "is empty"),
    "text": (lambda: b"plain text, not a photo", "is not an image"),
    "truncated PNG": (lambda: photo("people/lin_manuel_miranda/lin1.png")[:300], "damaged or cut short"),
    "truncated JPEG": (lambda: photo("people/rose_leslie/rose1.jpg")[:-4000], "damaged or cut short"),
    "60x60 photo": (tiny_photo, "is 60x60 pixels: a photo needs at least 80 pixels on each side"),
    "30000x30000 PNG header": (lambda: png_claiming(30000, 30000), "too large"),
}


@cache  # made once for both back ends: a 4800-pixel PNG takes seconds to encode
def large_png(data: bytes, side: int = 2400, grain: int = 6) -> bytes:
    """The photo as a large PNG (5-15 MB at 2400 px): enlarged, with grain that PNG cannot compress away."""
    import numpy as np

    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = side / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
    pixels = np.asarray(image).astype(np.int16)
    noise = np.random.default_rng(7).integers(-grain, grain + 1, size=pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_an_image_too_large_is_refused_from_its_header(service: FaceService) -> None:
    before = snapshot(service)
    with pytest.raises(InvalidImage, match=r"too large \(8000x6000 pixels\)"):
        service.add("Lin", png_claiming(8000, 6000))  # 48 megapixels, with almost no data behind them
    assert snapshot(service) == before


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_are_refused_before_upload(service: FaceService, kind: str) -> None:
    before = snapshot(service)
    make, message = BAD_FILES[kind]
    with pytest.raises(InvalidImage, match=message):
        service.add("Lin", make())
    assert snapshot(service) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "name is empty"), ("   ", "name is empty"), ("x" * 300, "300 characters"), ("bad\x07name", "control")],
)
def test_bad_names_are_refused(service: FaceService, name: str, message: str) -> None:
    before = snapshot(service)
    with pytest.raises(InvalidName, match=message):
        service.add(name, small_photo("people/rose_leslie/rose1.jpg"))
    assert snapshot(service) == before


def test_deleting_someone_not_enrolled_says_so(service: FaceService) -> None:
    with pytest.raises(NotEnrolled):
        service.delete("Nobody Here")


def test_delete_finds_the_person_as_add_compares_names(service: FaceService) -> None:
    assert service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg")).ok
    deleted = service.delete("  rose   LESLIE ")
    assert deleted.name == "Rose Leslie" and deleted.faces == 1
    assert service.people() == []


def test_delete_of_a_name_spelt_two_ways_wants_the_exact_spelling(service: FaceService) -> None:
    assert service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg")).ok
    assert service.add("ROSE LESLIE", small_photo("people/rose_leslie/rose2.jpg")).ok
    before = snapshot(service)
    with pytest.raises(NotEnrolled, match="'ROSE LESLIE' and 'Rose Leslie' are both enrolled"):
        service.delete("rose leslie")
    assert snapshot(service) == before
    service.delete("ROSE LESLIE")
    assert [p.name for p in service.people()] == ["Rose Leslie"]


def test_a_rename_changes_the_name_and_indexes_nothing_again(service: FaceService) -> None:
    assert service.add("Rose Lesley", small_photo("people/rose_leslie/rose1.jpg")).ok
    faces_before = sorted(collection_faces(service))
    renamed = service.rename("rose lesley", "Rose Leslie")
    assert (renamed.old, renamed.new, renamed.faces, renamed.merged) == ("Rose Lesley", "Rose Leslie", 1, False)
    assert [(p.name, p.face_count) for p in service.people()] == [("Rose Leslie", 1)]
    assert sorted(collection_faces(service)) == faces_before  # the same faces: nothing was indexed again
    (face,) = service.check(small_photo("people/rose_leslie/rose2.jpg"))
    assert face.name == "Rose Leslie"
    with pytest.raises(NotEnrolled):
        service.delete("Rose Lesley")


def test_a_rename_onto_someone_else_merges_only_when_asked(service: FaceService) -> None:
    assert service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg")).ok
    assert service.add("Rose L", small_photo("people/rose_leslie/rose2.jpg")).ok
    before = snapshot(service), [(p.name, p.face_count) for p in service.people()]
    with pytest.raises(NameTaken, match="Rose Leslie is already enrolled"):
        service.rename("Rose L", "rose  leslie")
    assert (snapshot(service), [(p.name, p.face_count) for p in service.people()]) == before
    merged = service.rename("Rose L", "rose  leslie", merge=True)
    assert merged.new == "Rose Leslie" and merged.merged
    assert [(p.name, p.face_count) for p in service.people()] == [("Rose Leslie", 2)]
    with pytest.raises(NotEnrolled):
        service.rename("Nobody Here", "Somebody")
    with pytest.raises(InvalidName):
        service.rename("Rose Leslie", "   ")


def leave_a_pending_claim(service: FaceService, key: str, name: str) -> None:
    """The image item an indexer writes when it claims a photo (and leaves, if killed midway): pending."""
    now = datetime.now(timezone.utc)
    claim = ImageItem(
        image_key=key,
        name=name,
        etag='"0123456789abcdef0123456789abcdef"',
        status=PENDING,
        message="indexing",
        face_ids=(),
        indexed_at=now,
        external_image_id=image_token(key),
        attempt="killed-midway",
        lease_until=now + timedelta(seconds=90),
    )
    service.dynamodb.put_item(TableName=service.settings.dynamodb_table_name, Item=claim.to_item())


def test_a_rename_waits_for_a_photo_still_being_indexed(service: FaceService) -> None:
    assert service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg")).ok
    # What an indexer killed midway leaves: the image's claim, pending, with the person's name.
    leave_a_pending_claim(service, "index/0123456789abcdef.jpg", "Rose Leslie")
    before = table_items(service)
    with pytest.raises(StillIndexing, match="still being indexed"):
        service.rename("Rose Leslie", "Rose")
    assert table_items(service) == before


def test_webcam_frame_is_checked(service: FaceService) -> None:
    assert service.add("Kit", small_photo("people/kit_harington/kit1.jpg")).ok
    (face,) = service.check(jpeg(letterbox(small_photo("people/kit_harington/kit3.jpg"))))
    assert face.name == "Kit"
    assert 0 <= face.box.left < 1 and 0 < face.box.width < 1


def test_threshold_decides_a_match(service: FaceService) -> None:
    assert service.add("Alex", small_photo("people/alex_lacamoire/alex1.png")).ok
    (face,) = service.check(small_photo("people/alex_lacamoire/alex2.jpg"))
    assert face.name == "Alex"
    strictly = min(99.99, face.similarity + 0.1)
    (strict,) = service.check(small_photo("people/alex_lacamoire/alex2.jpg"), threshold=strictly)
    assert strict.name is None


def test_deleting_a_person_leaves_none_of_their_data_on_disk(tmp_path) -> None:
    from facerec.service import open_service
    from facerec.settings import load

    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})
    service = open_service(settings)
    assert service.add("Zebulon Quixote", small_photo("people/joe_biden/biden1.jpg")).ok
    assert service.add("Rose", small_photo("people/rose_leslie/rose1.jpg")).ok
    (zebulon,) = [p for p in service.people() if p.name == "Zebulon Quixote"]
    descriptor = service.rekognition.store.face(settings.rekognition_collection_name, zebulon.face_ids[0])[1]
    image = small_photo("people/joe_biden/biden1.jpg")

    service.delete("Zebulon Quixote")
    traces = [b"Zebulon", urllib.parse.quote("Zebulon Quixote").encode(), descriptor.tobytes(), image[1000:1100]]
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(trace in content for trace in traces), path
    assert [p.name for p in service.people()] == ["Rose"]


def without_notification(service: FaceService):
    """The bucket's notification taken off, as if the event had not been delivered yet."""
    bucket = service.settings.s3_bucket_name
    configuration = service.s3.get_bucket_notification_configuration(Bucket=bucket)
    configuration.pop("ResponseMetadata", None)
    service.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    return lambda: service.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=configuration
    )


def test_reindex_leaves_an_upload_that_may_still_be_indexing_alone(service: FaceService) -> None:
    restore = without_notification(service)
    service.s3.put_object(
        Bucket=service.settings.s3_bucket_name,
        Key="index/late.jpg",
        Body=small_photo("people/kit_harington/kit1.jpg"),
        Metadata={"fullname": "Kit"},
    )
    restore()
    waiting = service.reindex()
    assert waiting.in_flight == ["index/late.jpg"] and waiting.indexed == []
    assert service.people() == []
    done = service.reindex(grace=0.0)
    assert done.indexed == ["index/late.jpg"]
    assert [p.name for p in service.people()] == ["Kit"]


def faces_of(service: FaceService) -> list[tuple[str, int]]:
    return [(p.name, p.face_count) for p in service.people()]


def test_a_face_picked_in_a_group_photo_is_enrolled_with_the_whole_photo_kept(service: FaceService, backend) -> None:
    group = small_photo("groups/kit_and_rose.jpg")
    faces = service.check(group)
    first, second = (service.add_face(name, group, face.box) for name, face in zip("AB", faces, strict=True))
    assert first.ok and second.ok, (first, second)
    assert faces_of(service) == [("A", 1), ("B", 1)]
    # Each face enrolled is its own person's: Kit's photo finds one, Rose's the other.
    kit = service.check(small_photo("people/kit_harington/kit3.jpg"))[0].name
    rose = service.check(small_photo("people/rose_leslie/rose2.jpg"))[0].name
    assert {kit, rose} == {"A", "B"}
    # What was indexed is the crop; what People shows is the photo it was picked from.
    assert service.photo(first.image_key) == group
    indexed = service.s3.get_object(Bucket=service.settings.s3_bucket_name, Key=first.image_key)["Body"].read()
    assert Image.open(io.BytesIO(indexed)).size < Image.open(io.BytesIO(group)).size
    assert backend.idle()
    assert len(collection_faces(service)) == 2  # the kept photo was not indexed as a group


def test_removing_one_photo_keeps_the_persons_others(service: FaceService) -> None:
    group = small_photo("groups/kit_and_rose.jpg")
    first = service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg"))
    (rose,) = [face for face in service.check(group) if face.name == "Rose Leslie"]
    second = service.add_face("Rose Leslie", group, rose.box)
    assert first.ok and second.ok
    removed = service.remove_photo(second.image_key)
    assert (removed.name, removed.faces, removed.images) == ("Rose Leslie", 1, 1)
    assert faces_of(service) == [("Rose Leslie", 1)]
    assert sorted(bucket_keys(service)) == [first.image_key]  # the kept whole photo went with its crop
    assert collection_faces(service) == list(first.face_ids)
    with pytest.raises(NotEnrolled, match="removed already"):
        service.remove_photo(second.image_key)
    service.remove_photo(first.image_key)
    assert service.people() == [] and snapshot(service) == ([], [], 0)


def test_a_photo_still_being_indexed_is_not_removed(service: FaceService) -> None:
    restore = without_notification(service)
    pending = service.add("Kit", small_photo("people/kit_harington/kit1.jpg"), timeout=0.2)
    assert pending.pending
    key = pending.image_key
    leave_a_pending_claim(service, key, "Kit")  # as a running indexer holds it
    before = snapshot(service)
    with pytest.raises(StillIndexing):
        service.remove_photo(key)
    assert snapshot(service) == before
    restore()


def test_reindex_removes_a_kept_photo_whose_crop_is_gone(service: FaceService) -> None:
    from facerec.service import original_key

    bucket = service.settings.s3_bucket_name
    kept = service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg"))
    service.s3.put_object(Bucket=bucket, Key=original_key(kept.image_key), Body=b"the photo it came from")
    # What an add leaves that kept the whole photo while a delete of the person ran: the crop is gone.
    stray = original_key("index/0123456789abcdef.jpg")
    service.s3.put_object(Bucket=bucket, Key=stray, Body=b"a photo of nobody enrolled")
    assert service.reindex(grace=0.0).orphan_photos_removed == 1
    assert sorted(bucket_keys(service)) == sorted([kept.image_key, original_key(kept.image_key)])
