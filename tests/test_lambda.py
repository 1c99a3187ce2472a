"""lambda.py fed the S3 events AWS documents, on both back ends."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from facerec.records import ImageItem, image_id, item_key, upload_metadata
from tests.conftest import ROOT, photo, small_photo

handler = importlib.import_module("lambda")


def aws_event(bucket: str, *objects: tuple[str, int, str]) -> dict:
    """An S3 ObjectCreated:Put event as AWS documents it, keys URL-encoded as S3 encodes them."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-26T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "index-faces",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": urllib.parse.quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag.strip('"'),
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
            for key, size, etag in objects
        ]
    }


@pytest.fixture
def pipeline(backend):
    # No notification on the bucket: each test delivers the events itself.
    backend.s3.put_bucket_notification_configuration(
        Bucket=backend.settings.s3_bucket_name, NotificationConfiguration={}
    )
    clients = handler.Clients(backend.s3, backend.rekognition, backend.dynamodb)
    names = handler.Names(backend.settings.dynamodb_table_name, backend.settings.rekognition_collection_name)
    return backend.settings, clients, names


def upload(clients, bucket: str, key: str, data: bytes, name: str | None = None) -> tuple[str, int, str]:
    metadata = upload_metadata(name) if name else {}
    etag = clients.s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata)["ETag"]
    return key, len(data), etag


def items(clients, names) -> dict[str, dict]:
    scanned = clients.dynamodb.scan(TableName=names.table)["Items"]
    return {i["RekognitionId"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in scanned}


def faces(clients, names) -> list[dict]:
    return clients.rekognition.list_faces(CollectionId=names.collection)["Faces"]


def test_every_record_is_indexed_with_its_decoded_key_and_name(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    objects = [
        upload(clients, bucket, "index/Zoë Ñúñez (1).jpg", small_photo("people/rose_leslie/rose1.jpg"), "Zoë Ñúñez"),
        upload(clients, bucket, "index/李雷 photo+1.jpg", small_photo("people/kit_harington/kit1.jpg"), "李雷"),
        upload(clients, bucket, "index/Joe Biden.jpg", small_photo("people/joe_biden/biden1.jpg")),  # name from the key
    ]
    result = handler.handle(aws_event(bucket, *objects), clients, names)
    assert [r["status"] for r in result["results"]] == ["indexed"] * 3
    stored = items(clients, names)
    face_items = [i for i in stored.values() if i["ItemType"] == "face"]
    assert sorted(i["FullName"] for i in face_items) == ["Joe Biden", "Zoë Ñúñez", "李雷"]
    assert {i["ImageKey"] for i in face_items} == {key for key, _, _ in objects}
    assert len(faces(clients, names)) == 3
    for key, _, _ in objects:
        assert stored["image#" + key]["Status"] == "indexed"


def test_a_duplicate_delivery_indexes_nothing_twice(pipeline) -> None:
    settings, clients, names = pipeline
    event = aws_event(
        settings.s3_bucket_name,
        upload(clients, settings.s3_bucket_name, "index/a b.jpg", small_photo("people/joe_biden/biden2.jpg"), "Joe"),
    )
    handler.handle(event, clients, names)
    again = handler.handle(event, clients, names)
    assert again["results"][0]["duplicate"] is True
    assert len(faces(clients, names)) == 1
    assert len(items(clients, names)) == 2


def test_a_record_for_a_deleted_object_does_not_stop_the_others(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    gone = upload(clients, bucket, "index/gone.jpg", small_photo("people/joe_biden/biden2.jpg"), "Gone")
    clients.s3.delete_object(Bucket=bucket, Key="index/gone.jpg")
    kept = upload(clients, bucket, "index/kept.jpg", small_photo("people/kit_harington/kit2.jpg"), "Kit")
    result = handler.handle(aws_event(bucket, gone, kept), clients, names)
    assert [r["status"] for r in result["results"]] == ["gone", "indexed"]
    assert [i["FullName"] for i in items(clients, names).values() if i["ItemType"] == "face"] == ["Kit"]


def test_unusable_images_are_recorded_and_the_rest_indexed(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    event = aws_event(
        bucket,
        upload(clients, bucket, "index/text.jpg", b"not an image at all", "Text"),
        upload(clients, bucket, "index/group.jpg", photo("groups/kit_and_rose.jpg"), "Group"),
        upload(clients, bucket, "index/rose.jpg", small_photo("people/rose_leslie/rose2.jpg"), "Rose"),
    )
    result = handler.handle(event, clients, names)
    assert [r["status"] for r in result["results"]] == ["invalid_image", "several_faces", "indexed"]
    assert len(faces(clients, names)) == 1
    assert "2 faces" in items(clients, names)["image#index/group.jpg"]["Message"]


class Throttled:
    """Rekognition that refuses, as AWS does under load, for one key."""

    def __init__(self, real, key: str) -> None:
        self.real, self.key = real, key

    def __getattr__(self, name):
        return getattr(self.real, name)

    def index_faces(self, **params):
        if params["Image"]["S3Object"]["Name"] == self.key:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "IndexFaces")
        return self.real.index_faces(**params)


def test_transient_errors_are_raised_after_the_other_records(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    event = aws_event(
        bucket,
        upload(clients, bucket, "index/busy.jpg", small_photo("people/joe_biden/biden1.jpg"), "Joe"),
        upload(clients, bucket, "index/fine.jpg", small_photo("people/kit_harington/kit3.jpg"), "Kit"),
    )
    throttled = handler.Clients(clients.s3, Throttled(clients.rekognition, "index/busy.jpg"), clients.dynamodb)
    with pytest.raises(handler.TransientErrors, match="ThrottlingException"):
        handler.handle(event, throttled, names)
    assert items(clients, names)["image#index/fine.jpg"]["Status"] == "indexed"
    # Lambda's retry delivers the whole event again: the pending image is finished, the done one skipped.
    result = handler.handle(event, clients, names)
    assert [r["status"] for r in result["results"]] == ["indexed", "indexed"]
    assert len(faces(clients, names)) == 2
    assert sorted(i["FullName"] for i in items(clients, names).values() if i["ItemType"] == "face") == ["Joe", "Kit"]


def test_the_handler_reads_its_names_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMODB_TABLE_NAME", "table-x")
    monkeypatch.setenv("REKOGNITION_COLLECTION_NAME", "collection-y")
    assert handler.Names.from_env() == handler.Names("table-x", "collection-y")


class Refusing:
    """Rekognition answering every IndexFaces with one error, as AWS does when a policy or an outage says no."""

    def __init__(self, real, code: str, status: int) -> None:
        self.real, self.code, self.status = real, code, status

    def __getattr__(self, name):
        return getattr(self.real, name)

    def index_faces(self, **params):
        error = {"Error": {"Code": self.code, "Message": f"{self.code} for this test"}}
        raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": self.status}}, "IndexFaces")


class NoListing:
    """Rekognition whose ListFaces fails the test: the handler must not list the whole collection."""

    def __init__(self, real) -> None:
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def list_faces(self, **params):
        raise AssertionError("ListFaces on the handler's path")

    def get_paginator(self, name):
        assert name != "list_faces", "ListFaces on the handler's path"
        return self.real.get_paginator(name)


def image_item(clients, names, key: str) -> ImageItem:
    return ImageItem.from_item(clients.dynamodb.get_item(TableName=names.table, Key=item_key(image_id(key)))["Item"])


def test_deliveries_racing_for_one_image_index_it_once(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    biden = small_photo("people/joe_biden/biden1.jpg")
    event = aws_event(bucket, upload(clients, bucket, "index/race.jpg", biden, "Joe"))
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: handler.handle(event, clients, names), range(4)))
    statuses = sorted(run["results"][0]["status"] for run in runs)
    assert "indexed" in statuses and set(statuses) <= {"indexed", "in_progress"}, statuses
    assert len(faces(clients, names)) == 1
    assert [i["FullName"] for i in items(clients, names).values() if i["ItemType"] == "face"] == ["Joe"]


def test_a_live_claim_makes_a_second_delivery_do_nothing(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    obj = upload(clients, bucket, "index/busy.jpg", small_photo("people/joe_biden/biden1.jpg"), "Joe")
    claim = handler.Claim("index/busy.jpg", "Joe", obj[2], "another-attempt")
    assert handler._claim(clients, names, claim, None)  # another delivery is indexing it right now
    result = handler.handle(aws_event(bucket, obj), clients, names)
    assert result["results"][0]["status"] == "in_progress"
    assert faces(clients, names) == []
    assert image_item(clients, names, "index/busy.jpg").attempt == "another-attempt"


def test_a_dead_attempt_is_taken_over_from_what_it_recorded(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    obj = upload(clients, bucket, "index/dead.jpg", small_photo("people/kit_harington/kit1.jpg"), "Kit")
    handler.handle(aws_event(bucket, obj), clients, names)
    (first,) = [f["FaceId"] for f in faces(clients, names)]
    # As a run that died after recording its face: pending, its lease expired, no face item.
    expired = datetime(2000, 1, 1, tzinfo=timezone.utc)
    dead = replace(
        image_item(clients, names, "index/dead.jpg"),
        status="pending",
        attempt="dead",
        lease_until=expired,
        face_ids=(first,),
    )
    clients.dynamodb.put_item(TableName=names.table, Item=dead.to_item())
    clients.dynamodb.delete_item(TableName=names.table, Key=item_key(first))

    listing_forbidden = handler.Clients(clients.s3, NoListing(clients.rekognition), clients.dynamodb)
    result = handler.handle(aws_event(bucket, obj), listing_forbidden, names)
    assert result["results"][0]["status"] == "indexed"
    (second,) = [f["FaceId"] for f in faces(clients, names)]
    assert second != first
    face_items = [i for i in items(clients, names).values() if i["ItemType"] == "face"]
    assert [(i["RekognitionId"], i["FullName"]) for i in face_items] == [(second, "Kit")]


@pytest.mark.parametrize("code", ["AccessDeniedException", "ResourceNotFoundException", "ValidationException"])
def test_a_permanent_error_is_recorded_not_retried(pipeline, code: str) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    obj = upload(clients, bucket, "index/denied.jpg", small_photo("people/kit_harington/kit1.jpg"), "Kit")
    refusing = handler.Clients(clients.s3, Refusing(clients.rekognition, code, 400), clients.dynamodb)
    result = handler.handle(aws_event(bucket, obj), refusing, names)  # no raise: a retry would fail the same way
    assert result["results"][0]["status"] == "failed"
    item = image_item(clients, names, "index/denied.jpg")
    assert item.status == "failed" and code in item.message
    # Once the cause is fixed, the next delivery (reindex's) indexes it.
    assert handler.handle(aws_event(bucket, obj), clients, names)["results"][0]["status"] == "indexed"


class DeniedFor:
    """DynamoDB that refuses every GetItem of one image's item, as a policy that does not cover it would."""

    def __init__(self, real, image_key: str) -> None:
        self.real, self.key = real, item_key(image_id(image_key))

    def __getattr__(self, name):
        return getattr(self.real, name)

    def get_item(self, **params):
        if params["Key"] == self.key:
            error = {"Code": "AccessDeniedException", "Message": "not authorized to perform dynamodb:GetItem"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetItem")
        return self.real.get_item(**params)


def test_a_permanent_error_on_one_record_does_not_stop_the_next(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    event = aws_event(
        bucket,
        upload(clients, bucket, "index/denied.jpg", small_photo("people/joe_biden/biden1.jpg"), "Joe"),
        upload(clients, bucket, "index/fine.jpg", small_photo("people/kit_harington/kit3.jpg"), "Kit"),
    )
    denied = handler.Clients(clients.s3, clients.rekognition, DeniedFor(clients.dynamodb, "index/denied.jpg"))
    result = handler.handle(event, denied, names)  # no raise: a retry would fail the same way
    assert [r["status"] for r in result["results"]] == ["failed", "indexed"]
    assert "AccessDeniedException" in result["results"][0]["message"]
    assert [i["FullName"] for i in items(clients, names).values() if i["ItemType"] == "face"] == ["Kit"]


def test_importing_the_handler_leaves_the_logging_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("facerec.lambda")
    before = logger.level
    logger.setLevel(logging.NOTSET)
    # A fresh copy of the module, under a name of its own, so that its import code runs again here.
    spec = importlib.util.spec_from_file_location("lambda_imported_again", ROOT / "lambda.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
        assert logger.level == logging.NOTSET
    finally:
        logger.setLevel(before)


@pytest.mark.parametrize(("code", "status"), [("InternalServerError", 500), ("ServiceUnavailable", 503)])
def test_a_server_error_is_raised_for_lambda_to_retry(pipeline, code: str, status: int) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    obj = upload(clients, bucket, "index/outage.jpg", small_photo("people/kit_harington/kit1.jpg"), "Kit")
    refusing = handler.Clients(clients.s3, Refusing(clients.rekognition, code, status), clients.dynamodb)
    with pytest.raises(handler.TransientErrors, match=code):
        handler.handle(aws_event(bucket, obj), refusing, names)
    # The failed run gave its claim back: Lambda's retry indexes at once.
    assert handler.handle(aws_event(bucket, obj), clients, names)["results"][0]["status"] == "indexed"


def test_the_logs_carry_no_names(pipeline, caplog: pytest.LogCaptureFixture) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    event = aws_event(
        bucket,
        upload(clients, bucket, "index/a.jpg", small_photo("people/joe_biden/biden1.jpg"), "Zebulon Quixote"),
        upload(clients, bucket, "index/b.jpg", photo("groups/kit_and_rose.jpg"), "Zebulon Quixote"),
        upload(clients, bucket, "index/c.jpg", b"not an image", "Zebulon Quixote"),
    )
    with caplog.at_level(logging.DEBUG, logger="facerec.lambda"):
        handler.handle(event, clients, names)
        refusing = handler.Clients(clients.s3, Refusing(clients.rekognition, "AccessDenied", 403), clients.dynamodb)
        handler.handle(
            aws_event(bucket, upload(clients, bucket, "index/d.jpg", b"x", "Zebulon Quixote")), refusing, names
        )
    assert "index/a.jpg" in caplog.text  # keys and outcomes are logged
    assert "Zebulon" not in caplog.text and "Quixote" not in caplog.text
