"""The local DynamoDB, held to moto's behaviour for every operation and condition our code uses.

Tests taking the `dynamodb` fixture run once on each back end, the local one
through CheckedClient (every answer validated against botocore's output shapes,
every error code one the operation declares). Tests taking `local` cover what
only the local table has: its file, and its refusals of what it does not do.
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from facerec.local.dynamodb import LocalDynamoDB
from tests.local.checked import CheckedClient

TABLE = "people"
ITEM = {
    "pk": {"S": "image#index/a b.jpg"},
    "FullName": {"S": "Zoë Ñúñez 李雷"},
    "FaceIds": {"L": [{"S": "f1"}, {"S": "f2"}]},
    "Photo": {"B": b"\x00\xff bytes"},
}


@pytest.fixture(params=["local", "moto"])
def dynamodb(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if request.param == "local":
        yield CheckedClient(LocalDynamoDB(tmp_path))
        return
    import boto3
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def local(tmp_path: Path) -> LocalDynamoDB:
    return LocalDynamoDB(tmp_path)


def create_table(client: Any, name: str = TABLE) -> dict:
    return client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def key(value: str) -> dict:
    return {"pk": {"S": value}}


def code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_a_table_is_created_once_and_described(dynamodb: Any) -> None:
    created = create_table(dynamodb)["TableDescription"]
    assert (created["TableName"], created["TableStatus"]) == (TABLE, "ACTIVE")
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert dynamodb.describe_table(TableName=TABLE)["Table"]["TableArn"].endswith(f":table/{TABLE}")
    with pytest.raises(ClientError) as excinfo:
        create_table(dynamodb)
    assert code(excinfo) == "ResourceInUseException"
    with pytest.raises(ClientError) as excinfo:
        dynamodb.get_item(TableName="absent", Key=key("a"))
    assert code(excinfo) == "ResourceNotFoundException"


def test_items_round_trip_and_are_deleted(dynamodb: Any) -> None:
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item=ITEM)
    got = dynamodb.get_item(TableName=TABLE, Key={"pk": ITEM["pk"]}, ConsistentRead=True)
    assert got["Item"] == ITEM
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("missing"))
    dynamodb.delete_item(TableName=TABLE, Key={"pk": ITEM["pk"]})
    dynamodb.delete_item(TableName=TABLE, Key={"pk": ITEM["pk"]})  # deleting what is gone is no error
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": ITEM["pk"]})


# (A key of the wrong type, {"pk": {"N": "1"}}, is refused by AWS and the local table; moto accepts it.)
@pytest.mark.parametrize("bad_key", [{"other": {"S": "a"}}, {"pk": {"S": "a"}, "x": {"S": "b"}}])
def test_a_key_that_does_not_match_the_schema_is_refused(dynamodb: Any, bad_key: dict) -> None:
    create_table(dynamodb)
    unchecked = getattr(dynamodb, "_client", dynamodb)  # ValidationException is common to all operations, not declared
    with pytest.raises(ClientError) as excinfo:
        unchecked.get_item(TableName=TABLE, Key=bad_key)
    assert code(excinfo) == "ValidationException"


def test_the_claims_conditions_hold_as_on_aws(dynamodb: Any) -> None:
    """lambda.py's claim: only the first writer of an absent item wins; then only who names its attempt."""
    create_table(dynamodb)
    first = {**key("image#a"), "Attempt": {"S": "one"}}
    dynamodb.put_item(TableName=TABLE, Item=first, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as excinfo:
        dynamodb.put_item(TableName=TABLE, Item=first, ConditionExpression="attribute_not_exists(pk)")
    assert code(excinfo) == "ConditionalCheckFailedException"

    same = {"ConditionExpression": "#a = :a", "ExpressionAttributeNames": {"#a": "Attempt"}}
    dynamodb.put_item(
        TableName=TABLE, Item={**first, "Status": {"S": "done"}}, **same, ExpressionAttributeValues={":a": {"S": "one"}}
    )
    with pytest.raises(ClientError) as excinfo:
        dynamodb.put_item(TableName=TABLE, Item=first, **same, ExpressionAttributeValues={":a": {"S": "two"}})
    assert code(excinfo) == "ConditionalCheckFailedException"
    assert dynamodb.get_item(TableName=TABLE, Key=key("image#a"))["Item"]["Status"] == {"S": "done"}

    legacy = {**key("image#b")}
    dynamodb.put_item(TableName=TABLE, Item=legacy)
    dynamodb.put_item(
        TableName=TABLE, Item={**legacy, "Attempt": {"S": "x"}}, ConditionExpression="attribute_not_exists(Attempt)"
    )
    with pytest.raises(ClientError) as excinfo:
        dynamodb.delete_item(TableName=TABLE, Key=key("image#b"), ConditionExpression="attribute_not_exists(Attempt)")
    assert code(excinfo) == "ConditionalCheckFailedException"
    dynamodb.delete_item(TableName=TABLE, Key=key("image#b"), ConditionExpression="attribute_exists(Attempt)")
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("image#b"))


def test_a_scan_pages_through_every_item_once(dynamodb: Any) -> None:
    create_table(dynamodb)
    written = {f"item-{n:03d}" for n in range(25)}
    for value in written:
        dynamodb.put_item(TableName=TABLE, Item={**key(value), "n": {"S": value}})
    pages = list(
        dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True, PaginationConfig={"PageSize": 7})
    )
    assert [len(p["Items"]) for p in pages[:3]] == [7, 7, 7]
    seen = [item["pk"]["S"] for page in pages for item in page["Items"]]
    assert sorted(seen) == sorted(written)


# The local table only


def test_racing_claims_have_one_winner(local: LocalDynamoDB) -> None:
    create_table(local)
    wins, start = [], threading.Barrier(8)

    def claim(n: int) -> None:
        start.wait()
        try:
            local.put_item(
                TableName=TABLE,
                Item={**key("image#a"), "Attempt": {"S": str(n)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            wins.append(n)
        except local.exceptions.ConditionalCheckFailedException:
            pass

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1


def test_what_the_local_table_does_not_do_is_refused_by_name(local: LocalDynamoDB) -> None:
    create_table(local)
    with pytest.raises(NotImplementedError, match="UpdateItem is not supported by the local table"):
        local.update_item(TableName=TABLE, Key=key("a"), UpdateExpression="SET n = :n")
    with pytest.raises(ClientError, match="'size\\(n\\) > :n' is not supported by the local table"):
        local.put_item(
            TableName=TABLE,
            Item=key("a"),
            ConditionExpression="size(n) > :n",
            ExpressionAttributeValues={":n": {"N": "1"}},
        )
    with pytest.raises(ClientError, match="FilterExpression"):
        local.scan(TableName=TABLE, FilterExpression="attribute_exists(n)")
    with pytest.raises(ClientError, match="sort key"):
        local.create_table(
            TableName="sorted",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    assert local.scan(TableName=TABLE)["Items"] == []  # nothing was written by the refused requests


def test_the_data_file_is_owner_only_and_keeps_no_deleted_name(tmp_path: Path) -> None:
    create_table(LocalDynamoDB(tmp_path))
    LocalDynamoDB(tmp_path).put_item(TableName=TABLE, Item=ITEM)
    reopened = LocalDynamoDB(tmp_path)
    assert reopened.get_item(TableName=TABLE, Key={"pk": ITEM["pk"]})["Item"] == ITEM
    assert stat.S_IMODE((tmp_path / "dynamodb.sqlite3").stat().st_mode) == 0o600
    reopened.delete_item(TableName=TABLE, Key={"pk": ITEM["pk"]})
    name = "Zoë Ñúñez".encode()
    assert not any(name in p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
