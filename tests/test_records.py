"""The table's items as lambda.py writes them and the app reads them: DynamoDB's types, both ways."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from facerec.records import FaceItem, ImageItem, image_token, read_item

NOW = datetime(2026, 12, 7, 8, 30, 15, 123456, tzinfo=timezone.utc)
PENDING_IMAGE = ImageItem(
    image_key="index/Zoë 1.jpg",
    name="Zoë Ñúñez",
    etag='"0cc175b9c0f1b6a831c399e269772661"',
    status="pending",
    message="indexing",
    face_ids=("f-1", "f-2"),
    indexed_at=NOW,
    external_image_id=image_token("index/Zoë 1.jpg"),
    attempt="a1",
    lease_until=NOW + timedelta(seconds=90),
)


def test_an_image_item_is_typed_as_the_table_holds_it_and_read_back_the_same() -> None:
    item = PENDING_IMAGE.to_item()
    assert item == {
        "RekognitionId": {"S": "image#index/Zoë 1.jpg"},
        "ItemType": {"S": "image"},
        "FullName": {"S": "Zoë Ñúñez"},
        "ImageKey": {"S": "index/Zoë 1.jpg"},
        "ETag": {"S": '"0cc175b9c0f1b6a831c399e269772661"'},
        "ExternalImageId": {"S": image_token("index/Zoë 1.jpg")},
        "Status": {"S": "pending"},
        "Message": {"S": "indexing"},
        "FaceIds": {"L": [{"S": "f-1"}, {"S": "f-2"}]},
        "IndexedAt": {"S": "2026-12-07T08:30:15.123456+00:00"},
        "Attempt": {"S": "a1"},
        "LeaseUntil": {"S": "2026-12-07T08:31:45.123456+00:00"},
    }
    assert ImageItem.from_item(item) == PENDING_IMAGE
    assert read_item(item) == PENDING_IMAGE


def test_a_face_item_is_typed_as_the_table_holds_it_and_read_back_the_same() -> None:
    face = FaceItem("f-1", "李雷", "index/a.jpg", NOW)
    item = face.to_item()
    assert item == {
        "RekognitionId": {"S": "f-1"},
        "ItemType": {"S": "face"},
        "FullName": {"S": "李雷"},
        "ImageKey": {"S": "index/a.jpg"},
        "IndexedAt": {"S": "2026-12-07T08:30:15.123456+00:00"},
    }
    assert read_item(item) == face


def test_an_outcome_without_attempt_or_lease_reads_as_one_written_before_attempts_had_ids() -> None:
    item = PENDING_IMAGE.to_item()
    del item["Attempt"], item["LeaseUntil"]
    image = ImageItem.from_item(item)
    assert image.attempt is None and image.lease_until is None
    assert image.to_item() == item
    assert not image.lease_is_live(NOW)
    assert PENDING_IMAGE.lease_is_live(NOW) and not PENDING_IMAGE.lease_is_live(NOW + timedelta(minutes=2))


def test_an_item_of_no_known_kind_is_none_of_the_apps() -> None:
    assert read_item({"RekognitionId": {"S": "x"}, "ItemType": {"S": "other"}}) is None
    assert read_item({"RekognitionId": {"S": "x"}}) is None
