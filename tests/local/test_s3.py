"""The local S3: objects, listing and notifications, the same as moto's S3 where both serve."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from facerec.local.s3 import LocalS3

BUCKET = "photos"


@pytest.fixture(params=["local", "moto"])
def s3(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if request.param == "local":
        client = LocalS3(tmp_path / "data")
        client.create_bucket(Bucket=BUCKET)
        yield client
        return
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_objects_round_trip_with_metadata(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="index/a b.jpg", Body=b"bytes", Metadata={"FullName": "Zo%C3%AB"})
    got = s3.get_object(Bucket=BUCKET, Key="index/a b.jpg")
    assert got["Body"].read() == b"bytes"
    assert got["Metadata"] == {"fullname": "Zo%C3%AB"}
    head = s3.head_object(Bucket=BUCKET, Key="index/a b.jpg")
    assert head["ContentLength"] == 5 and head["ETag"] == got["ETag"]
    s3.delete_object(Bucket=BUCKET, Key="index/a b.jpg")
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="index/a b.jpg")
    assert missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket=BUCKET, Key="index/a b.jpg")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"")


def test_listing_pages_through_a_prefix(s3) -> None:
    for index in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"index/{index}.jpg", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="other/x.jpg", Body=b"x")
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="index/", PaginationConfig={"PageSize": 3})
    )
    assert [len(p["Contents"]) for p in pages] == [3, 3, 1]
    assert [o["Key"] for p in pages for o in p["Contents"]] == [f"index/{i}.jpg" for i in range(7)]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="none/")["KeyCount"] == 0


def test_keys_never_leave_the_buckets_folder(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "data")
    s3.create_bucket(Bucket=BUCKET)
    keys = ["../../escaped.txt", "/etc/passwd", "a/../../b", "..", "李雷/Zoë Ñúñez.jpg", "x" * 1000]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    bucket_dir = (tmp_path / "data" / "s3" / BUCKET).resolve()
    written = [p for p in (tmp_path).rglob("*") if p.is_file() and not p.name.startswith("index.sqlite3")]
    assert written and all(bucket_dir in p.resolve().parents for p in written), written
    assert not (tmp_path / "escaped.txt").exists()
    for key in keys:
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == key.encode()


# Names botocore refuses before sending (not a plain name), and names S3 itself refuses (InvalidBucketName).
REFUSED_BY_BOTOCORE = ["../x", "a/b", "/abs", "/tmp/escaped", "a\\b"]
REFUSED_BY_S3 = ["..", ".", "ab", "x" * 64]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize("name", REFUSED_BY_BOTOCORE + REFUSED_BY_S3)
def test_a_bucket_name_that_is_not_a_plain_name_is_refused_and_creates_nothing(s3, tmp_path: Path, name: str) -> None:
    before = files_under(tmp_path)
    expected = ParamValidationError if name in REFUSED_BY_BOTOCORE else ClientError
    with pytest.raises(expected) as refused:
        s3.create_bucket(Bucket=name)
    if expected is ClientError:
        assert refused.value.response["Error"]["Code"] == "InvalidBucketName"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    assert files_under(tmp_path) == before  # no folder made, inside the data folder or out of it
    assert not (tmp_path / "x").exists() and not Path("/tmp/escaped").exists()
    with pytest.raises((ParamValidationError, ClientError)):
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert files_under(tmp_path) == before


def test_notifications_deliver_s3s_event_to_the_named_function(tmp_path: Path) -> None:
    events = []
    s3 = LocalS3(tmp_path / "data", functions={"indexer": lambda event, context: events.append(event)})
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "index-faces",
                    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:indexer",
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [{"Name": "prefix", "Value": "index/"}, {"Name": "suffix", "Value": ".jpg"}]
                        }
                    },
                }
            ]
        },
    )
    etag = s3.put_object(Bucket=BUCKET, Key="index/Zoë Ñúñez 1.jpg", Body=b"12345")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="other/x.jpg", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="index/x.png", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="index/Zoë Ñúñez 1.jpg")
    assert s3.courier.idle()
    assert len(events) == 1
    (record,) = events[0]["Records"]
    assert record["eventName"] == "ObjectCreated:Put" and record["eventSource"] == "aws:s3"
    assert record["s3"]["configurationId"] == "index-faces"
    assert record["s3"]["bucket"] == {
        "name": BUCKET,
        "ownerIdentity": {"principalId": "local"},
        "arn": f"arn:aws:s3:::{BUCKET}",
    }
    assert record["s3"]["object"]["key"] == "index/Zo%C3%AB+%C3%91%C3%BA%C3%B1ez+1.jpg"
    assert record["s3"]["object"]["size"] == 5 and record["s3"]["object"]["eTag"] == etag.strip('"')


def test_a_notification_must_name_a_known_function(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "data")
    s3.create_bucket(Bucket=BUCKET)
    configuration = {
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:missing", "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    with pytest.raises(ClientError, match="missing"):
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)


def test_a_failing_function_does_not_fail_the_upload(tmp_path: Path) -> None:
    calls = []

    def broken(event, context):
        calls.append(event)
        raise RuntimeError("handler bug")

    s3 = LocalS3(tmp_path / "data", functions={"indexer": broken})
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:indexer", "Events": ["s3:ObjectCreated:Put"]}
            ]
        },
    )
    s3.put_object(Bucket=BUCKET, Key="index/a.jpg", Body=b"x")
    assert s3.courier.idle()
    assert len(calls) == 3  # tried twice more, as Lambda retries an asynchronous invocation
    assert s3.get_object(Bucket=BUCKET, Key="index/a.jpg")["Body"].read() == b"x"
    assert os.stat(tmp_path / "data" / "s3").st_mode & 0o777 == 0o700
