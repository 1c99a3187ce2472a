"""lambda.py fed the S3 events AWS documents, on both back ends."""

from __future__ import annotations

import importlib
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from tests.conftest import photo

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
    settings, s3, rekognition, dynamodb = backend
    # Upload without the notification, so each test delivers events itself.
    raw_s3 = getattr(s3, "_client", s3)
    functions = getattr(raw_s3, "functions", None)
    if functions is not None:
        raw_s3.functions = {}
    clients = handler.Clients(raw_s3, rekognition, dynamodb)
    names = handler.Names(settings.dynamodb_table_name, settings.rekognition_collection_name)
    return settings, clients, names


def upload(clients, bucket: str, key: str, data: bytes, name: str | None = None) -> tuple[str, int, str]:
    metadata = {"fullname": urllib.parse.quote(name)} if name else {}
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
        upload(clients, bucket, "index/Zoë Ñúñez (1).jpg", photo("people/rose_leslie/rose1.jpg"), "Zoë Ñúñez"),
        upload(clients, bucket, "index/李雷 photo+1.jpg", photo("people/kit_harington/kit1.jpg"), "李雷"),
        upload(clients, bucket, "index/Joe Biden.jpg", photo("people/joe_biden/biden1.jpg")),  # name from the key
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
        upload(clients, settings.s3_bucket_name, "index/a b.jpg", photo("people/joe_biden/biden2.jpg"), "Joe"),
    )
    handler.handle(event, clients, names)
    again = handler.handle(event, clients, names)
    assert again["results"][0]["duplicate"] is True
    assert len(faces(clients, names)) == 1
    assert len(items(clients, names)) == 2


def test_a_record_for_a_deleted_object_does_not_stop_the_others(pipeline) -> None:
    settings, clients, names = pipeline
    bucket = settings.s3_bucket_name
    gone = upload(clients, bucket, "index/gone.jpg", photo("people/joe_biden/biden2.jpg"), "Gone")
    clients.s3.delete_object(Bucket=bucket, Key="index/gone.jpg")
    kept = upload(clients, bucket, "index/kept.jpg", photo("people/kit_harington/kit2.jpg"), "Kit")
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
        upload(clients, bucket, "index/rose.jpg", photo("people/rose_leslie/rose2.jpg"), "Rose"),
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
        upload(clients, bucket, "index/busy.jpg", photo("people/joe_biden/biden1.jpg"), "Joe"),
        upload(clients, bucket, "index/fine.jpg", photo("people/kit_harington/kit3.jpg"), "Kit"),
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
