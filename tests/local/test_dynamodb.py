"""The local DynamoDB, held to the same behaviour tests as moto's, through boto3's interface.

Tests taking the `dynamodb` fixture run once on each back end. Tests taking
`local` cover what moto cannot check (it accepts some requests AWS refuses and
does not canonicalise numbers) or what only the local back end has (its file).
"""

from __future__ import annotations

import re
import stat
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.local.dynamodb import LocalDynamoDB, sortable
from tests.local.checked import CheckedClient

TABLE = "people"
ALL_OPERATIONS = {
    "CreateTable",
    "DescribeTable",
    "DeleteTable",
    "ListTables",
    "PutItem",
    "GetItem",
    "DeleteItem",
    "UpdateItem",
    "Scan",
    "Query",
}


@pytest.fixture(params=["local", "moto"])
def dynamodb(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if request.param == "local":
        yield LocalDynamoDB(tmp_path)
        return
    import boto3
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def local(tmp_path: Path) -> LocalDynamoDB:
    return LocalDynamoDB(tmp_path)


def create_table(client: Any, name: str = TABLE, sort_key_type: str | None = None, **options: Any) -> dict:
    """A table keyed by pk (S), and by sk of `sort_key_type` if given; on-demand unless options say otherwise."""
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key_type:
        key_schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        definitions.append({"AttributeName": "sk", "AttributeType": sort_key_type})
    options.setdefault("BillingMode", "PAY_PER_REQUEST")
    return client.create_table(TableName=name, KeySchema=key_schema, AttributeDefinitions=definitions, **options)


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def placeholders_in(expression: str, names: dict, values: dict) -> dict:
    """The ExpressionAttributeNames/Values an expression uses: AWS refuses unused ones."""
    used = set(re.findall(r"[#:]\w+", expression))
    params = {}
    if used & set(names):
        params["ExpressionAttributeNames"] = {k: v for k, v in names.items() if k in used}
    if used & set(values):
        params["ExpressionAttributeValues"] = {k: v for k, v in values.items() if k in used}
    return params


def canonical(value: Any) -> Any:
    """An attribute value with its sets sorted: DynamoDB does not keep set order."""
    if isinstance(value, dict):
        return {k: sorted(v) if k in ("SS", "NS", "BS") else canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def sort_keys(response: dict) -> list[str]:
    return [item["sk"]["N"] if "N" in item["sk"] else item["sk"]["S"] for item in response["Items"]]


# Tables


def test_table_lifecycle(dynamodb: Any) -> None:
    created = create_table(dynamodb, sort_key_type="N")["TableDescription"]
    assert created["TableName"] == TABLE
    assert created["TableStatus"] == "ACTIVE"
    assert created["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    described = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert described["TableArn"].endswith(f":table/{TABLE}")
    assert described["ItemCount"] == 0
    assert TABLE in dynamodb.list_tables()["TableNames"]

    with pytest.raises(dynamodb.exceptions.ResourceInUseException):
        create_table(dynamodb)

    assert dynamodb.delete_table(TableName=TABLE)["TableDescription"]["TableName"] == TABLE
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=TABLE)
    assert TABLE not in dynamodb.list_tables()["TableNames"]


def test_provisioned_table_reports_its_throughput(dynamodb: Any) -> None:
    create_table(
        dynamodb, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3}
    )
    throughput = dynamodb.describe_table(TableName=TABLE)["Table"]["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (5, 3)


def test_list_tables_pages(dynamodb: Any) -> None:
    names = [f"table-{i:02}" for i in range(7)]
    for name in names:
        create_table(dynamodb, name)

    first = dynamodb.list_tables(Limit=3)
    assert first["TableNames"] == names[:3]
    assert first["LastEvaluatedTableName"] == names[2]
    second = dynamodb.list_tables(Limit=3, ExclusiveStartTableName=first["LastEvaluatedTableName"])
    assert second["TableNames"] == names[3:6]

    pages = list(dynamodb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["TableNames"]) for page in pages] == [3, 3, 1]
    assert [n for page in pages for n in page["TableNames"]] == names


# Items

PERSON = {
    "pk": {"S": "李雷"},
    "name": {"S": "Zoë Ñúñez"},
    "age": {"N": "42"},
    "balance": {"N": "-3.25"},
    "photo": {"B": b"\x00\xff\xd8JPEG"},
    "active": {"BOOL": True},
    "nickname": {"NULL": True},
    "aliases": {"L": [{"S": "Zoë"}, {"N": "7"}, {"M": {"note": {"S": "ü"}}}]},
    "address": {"M": {"city": {"S": "München"}, "zip": {"N": "80331"}}},
    "tags": {"SS": ["rouge", "蓝"]},
    "lucky": {"NS": ["3", "7"]},
    "blobs": {"BS": [b"\x01", b"\x02"]},
}


def test_put_get_delete_round_trip(dynamodb: Any) -> None:
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item=PERSON)

    got = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "李雷"}}, ConsistentRead=True)["Item"]
    assert canonical(got) == canonical(PERSON)
    assert isinstance(got["photo"]["B"], bytes)

    projected = dynamodb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": "李雷"}},
        ProjectionExpression="#n, address.city, aliases[1]",
        ExpressionAttributeNames={"#n": "name"},
    )["Item"]
    assert projected == {
        "name": {"S": "Zoë Ñúñez"},
        "address": {"M": {"city": {"S": "München"}}},
        "aliases": {"L": [{"N": "7"}]},
    }

    deleted = dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "李雷"}}, ReturnValues="ALL_OLD")
    assert canonical(deleted["Attributes"]) == canonical(PERSON)
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "李雷"}})
    assert "Attributes" not in dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "李雷"}}, ReturnValues="ALL_OLD")


def test_put_replaces_and_returns_the_old_item(dynamodb: Any) -> None:
    create_table(dynamodb)
    first = dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "v": {"S": "one"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in first
    second = dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "w": {"S": "two"}}, ReturnValues="ALL_OLD")
    assert second["Attributes"] == {"pk": {"S": "a"}, "v": {"S": "one"}}
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}, "w": {"S": "two"}}


def test_conditional_put_does_not_overwrite(dynamodb: Any) -> None:
    create_table(dynamodb)
    original = {"pk": {"S": "Zoë Ñúñez"}, "city": {"S": "Paris"}}
    dynamodb.put_item(TableName=TABLE, Item=original, ConditionExpression="attribute_not_exists(pk)")

    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException) as excinfo:
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "Zoë Ñúñez"}, "city": {"S": "Lyon"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert isinstance(excinfo.value, ClientError)
    assert error_code(excinfo) == "ConditionalCheckFailedException"
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "Zoë Ñúñez"}})["Item"] == original


SUBJECT = {
    "pk": {"S": "subject"},
    "count": {"N": "5"},
    "s": {"S": "hello"},
    "tags": {"SS": ["red", "blue"]},
    "m": {"M": {"inner": {"N": "5"}}},
    "l": {"L": [{"S": "a"}, {"S": "b"}]},
}
NAMES = {"#count": "count", "#inner": "inner"}
VALUES = {
    ":zero": {"N": "0"},
    ":five": {"N": "5"},
    ":six": {"N": "6"},
    ":hello": {"S": "hello"},
    ":he": {"S": "he"},
    ":red": {"S": "red"},
    ":b": {"S": "b"},
}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("attribute_exists(s)", True),
        ("attribute_not_exists(s)", False),
        ("attribute_not_exists(absent)", True),
        ("#count = :five", True),
        ("#count <> :five", False),
        ("#count < :six", True),
        ("#count <= :five", True),
        ("#count > :five", False),
        ("#count >= :six", False),
        ("#count BETWEEN :zero AND :five", True),
        ("s IN (:he, :hello)", True),
        ("begins_with(s, :he)", True),
        ("begins_with(s, :red)", False),
        ("contains(tags, :red)", True),
        ("size(s) = :five", True),
        ("m.#inner = :five", True),
        ("l[1] = :b", True),
        ("absent <> :five", True),
        ("NOT attribute_exists(s)", False),
        ("NOT (#count = :six)", True),
        ("#count = :six OR s = :hello", True),
        ("#count = :six AND s = :hello", False),
        ("(#count = :six OR s = :hello) AND NOT contains(tags, :he)", True),
        ("s = :hello OR #count = :six AND #count = :zero", True),  # AND binds tighter than OR
        ("(s = :hello OR #count = :six) AND #count = :zero", False),
    ],
)
def test_condition_expressions(dynamodb: Any, condition: str, holds: bool) -> None:
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item=SUBJECT)
    params = placeholders_in(condition, NAMES, VALUES)
    changed = {**SUBJECT, "changed": {"BOOL": True}}
    if holds:
        dynamodb.put_item(TableName=TABLE, Item=changed, ConditionExpression=condition, **params)
    else:
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.put_item(TableName=TABLE, Item=changed, ConditionExpression=condition, **params)
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "subject"}})["Item"]
    assert canonical(stored) == canonical(changed if holds else SUBJECT)


def test_conditional_delete(dynamodb: Any) -> None:
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "version": {"N": "2"}})
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.delete_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": {"N": "1"}},
        )
    assert "Item" in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    dynamodb.delete_item(
        TableName=TABLE,
        Key={"pk": {"S": "a"}},
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})


# Updates


def test_update_item_creates_then_changes(dynamodb: Any) -> None:
    create_table(dynamodb)
    key = {"pk": {"S": "Zoë Ñúñez"}}
    created = dynamodb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET visits = :one, home = :home, history = :empty",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":home": {"M": {"city": {"S": "Lyon"}}},
            ":empty": {"L": []},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert created == {
        **key,
        "visits": {"N": "1"},
        "home": {"M": {"city": {"S": "Lyon"}}},
        "history": {"L": []},
    }

    changed = dynamodb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression=(
            "SET visits = visits + :one, home.city = :city, history = list_append(history, :seen),"
            " first_seen = if_not_exists(first_seen, :today) REMOVE home.zip"
        ),
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":city": {"S": "李雷村"},
            ":seen": {"L": [{"S": "monday"}]},
            ":today": {"S": "monday"},
        },
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert changed == {
        "visits": {"N": "2"},
        "home": {"M": {"city": {"S": "李雷村"}}},
        "history": {"L": [{"S": "monday"}]},
        "first_seen": {"S": "monday"},
    }

    old = dynamodb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET visits = :ten REMOVE history",
        ExpressionAttributeValues={":ten": {"N": "10"}},
        ReturnValues="UPDATED_OLD",
    )["Attributes"]
    assert old == {"visits": {"N": "2"}, "history": {"L": [{"S": "monday"}]}}

    item = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    assert item == {
        **key,
        "visits": {"N": "10"},
        "home": {"M": {"city": {"S": "李雷村"}}},
        "first_seen": {"S": "monday"},
    }


def test_update_item_condition_failure_changes_nothing(dynamodb: Any) -> None:
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "stock": {"N": "0"}})
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET stock = stock - :one",
            ConditionExpression="stock >= :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"]["stock"] == {"N": "0"}
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "new"}},
            UpdateExpression="SET stock = :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "new"}})


def test_update_item_refuses_to_change_the_key(dynamodb: Any) -> None:
    create_table(dynamodb)
    with pytest.raises(ClientError) as excinfo:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET pk = :b",
            ExpressionAttributeValues={":b": {"S": "b"}},
        )
    assert error_code(excinfo) == "ValidationException"
    assert "part of the key" in str(excinfo.value)


# Scans and queries


def test_scan_pages_through_every_item(dynamodb: Any) -> None:
    create_table(dynamodb)
    keys = {f"person-{i:02}" for i in range(25)}
    for key in keys:
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": key}, "n": {"N": key[-2:]}})

    pages = list(dynamodb.get_paginator("scan").paginate(TableName=TABLE, PaginationConfig={"PageSize": 10}))
    assert [len(page["Items"]) for page in pages] == [10, 10, 5]
    seen = [item["pk"]["S"] for page in pages for item in page["Items"]]
    assert sorted(seen) == sorted(keys)

    first = dynamodb.scan(TableName=TABLE, Limit=10)
    assert first["Count"] == first["ScannedCount"] == 10
    rest = dynamodb.scan(TableName=TABLE, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert "LastEvaluatedKey" not in rest
    assert sorted(i["pk"]["S"] for i in first["Items"] + rest["Items"]) == sorted(keys)

    limited = (
        dynamodb.get_paginator("scan")
        .paginate(TableName=TABLE, PaginationConfig={"PageSize": 10, "MaxItems": 15})
        .build_full_result()
    )
    assert len(limited["Items"]) == 15
    assert "NextToken" in limited


def test_scan_filter_and_projection(dynamodb: Any) -> None:
    create_table(dynamodb)
    for i in range(6):
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": f"p{i}"}, "age": {"N": str(20 + i)}, "address": {"M": {"city": {"S": f"c{i}"}}}},
        )
    result = dynamodb.scan(
        TableName=TABLE,
        FilterExpression="age >= :min",
        ProjectionExpression="pk, address.city",
        ExpressionAttributeValues={":min": {"N": "23"}},
    )
    assert (result["Count"], result["ScannedCount"]) == (3, 6)
    assert sorted(result["Items"], key=lambda i: i["pk"]["S"]) == [
        {"pk": {"S": f"p{i}"}, "address": {"M": {"city": {"S": f"c{i}"}}}} for i in (3, 4, 5)
    ]


NUMBERED = ["-10", "-1.5", "0", "0.25", "2", "10", "100"]


@pytest.fixture
def numbered(dynamodb: Any) -> Any:
    """A table keyed by pk and a numeric sk: alice's items in NUMBERED, and one of bob's."""
    create_table(dynamodb, sort_key_type="N")
    for i, sk in enumerate(reversed(NUMBERED)):
        colour = "red" if i % 2 else "blue"
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "alice"}, "sk": {"N": sk}, "colour": {"S": colour}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "bob"}, "sk": {"N": "1"}})
    return dynamodb


def query_alice(client: Any, condition: str = "", **params: Any) -> dict:
    values = {":p": {"S": "alice"}, **params.pop("values", {})}
    return client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p" + condition, ExpressionAttributeValues=values, **params
    )


def test_query_orders_by_sort_key_value(numbered: Any) -> None:
    assert sort_keys(query_alice(numbered)) == NUMBERED
    assert sort_keys(query_alice(numbered, ScanIndexForward=False)) == NUMBERED[::-1]


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        (" AND sk = :a", {":a": "2"}, ["2"]),
        (" AND sk < :a", {":a": "0"}, ["-10", "-1.5"]),
        (" AND sk <= :a", {":a": "0"}, ["-10", "-1.5", "0"]),
        (" AND sk > :a", {":a": "0.25"}, ["2", "10", "100"]),
        (" AND sk >= :a", {":a": "0.25"}, ["0.25", "2", "10", "100"]),
        (" AND sk BETWEEN :a AND :b", {":a": "-1.5", ":b": "10"}, ["-1.5", "0", "0.25", "2", "10"]),
        (" AND (sk > :a)", {":a": "50"}, ["100"]),
    ],
)
def test_query_sort_key_conditions(numbered: Any, condition: str, values: dict, expected: list[str]) -> None:
    typed = {k: {"N": v} for k, v in values.items()}
    assert sort_keys(query_alice(numbered, condition, values=typed)) == expected


def test_query_pages_and_filters(numbered: Any) -> None:
    pages = list(
        numbered.get_paginator("query").paginate(
            TableName=TABLE,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "alice"}},
            PaginationConfig={"PageSize": 3},
        )
    )
    assert [len(page["Items"]) for page in pages] == [3, 3, 1]
    assert [item["sk"]["N"] for page in pages for item in page["Items"]] == NUMBERED

    filtered = query_alice(numbered, FilterExpression="colour = :c", values={":c": {"S": "red"}})
    assert (filtered["Count"], filtered["ScannedCount"]) == (3, 7)
    assert all(item["colour"] == {"S": "red"} for item in filtered["Items"])


def test_query_begins_with_on_a_string_sort_key(dynamodb: Any) -> None:
    create_table(dynamodb, sort_key_type="S")
    for day in ["2024-01-05", "2024-02-01", "2024-02-14", "2024-03-01"]:
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "李雷"}, "sk": {"S": day}})
    values = {":p": {"S": "李雷"}, ":m": {"S": "2024-02"}}
    result = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :m)", ExpressionAttributeValues=values
    )
    assert sort_keys(result) == ["2024-02-01", "2024-02-14"]
    result = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :p AND sk < :m", ExpressionAttributeValues=values
    )
    assert sort_keys(result) == ["2024-01-05"]


def test_query_needs_the_partition_key(numbered: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        numbered.query(TableName=TABLE, KeyConditionExpression="sk = :s", ExpressionAttributeValues={":s": {"N": "1"}})
    assert error_code(excinfo) == "ValidationException"
    assert "missed key schema element: pk" in str(excinfo.value)


# Errors


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("describe_table", {}),
        ("delete_table", {}),
        ("put_item", {"Item": {"pk": {"S": "a"}}}),
        ("get_item", {"Key": {"pk": {"S": "a"}}}),
        ("delete_item", {"Key": {"pk": {"S": "a"}}}),
        (
            "update_item",
            {
                "Key": {"pk": {"S": "a"}},
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            },
        ),
        ("scan", {}),
        ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}),
    ],
)
def test_missing_table(dynamodb: Any, operation: str, params: dict) -> None:
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException) as excinfo:
        getattr(dynamodb, operation)(TableName="absent", **params)
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("get_item", {"Key": {"pk": {"S": "a"}}}),  # the sort key is missing
        ("get_item", {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}, "other": {"S": "x"}}}),
        ("delete_item", {"Key": {"pk": {"S": "a"}}}),
        ("put_item", {"Item": {"pk": {"S": "a"}}}),
        ("put_item", {"Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}}),  # sk must be a number
        ("put_item", {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "big": {"S": "x" * 410_000}}}),
    ],
)
def test_invalid_keys_and_items(dynamodb: Any, operation: str, params: dict) -> None:
    create_table(dynamodb, sort_key_type="N")
    with pytest.raises(ClientError) as excinfo:
        getattr(dynamodb, operation)(TableName=TABLE, **params)
    assert error_code(excinfo) == "ValidationException"


@pytest.mark.parametrize(
    "params",
    [
        # `name` is a reserved word: it must go through ExpressionAttributeNames.
        {"ConditionExpression": "attribute_not_exists(name)"},
        {"UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "1"}, ":unused": {"N": "2"}}},
        {"UpdateExpression": "SET v = :v"},
    ],
)
def test_invalid_expressions(dynamodb: Any, params: dict) -> None:
    create_table(dynamodb)
    with pytest.raises(ClientError) as excinfo:
        dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": "a"}}, **params)
    assert error_code(excinfo) == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})


# The local back end only


def test_every_response_matches_botocore_output_shapes(local: LocalDynamoDB) -> None:
    client = CheckedClient(local)
    create_table(client, sort_key_type="N")
    create_table(
        client,
        "provisioned",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    client.describe_table(TableName=TABLE)
    client.list_tables(Limit=1)
    for sk in range(3):
        item = {**PERSON, "pk": {"S": "a"}, "sk": {"N": str(sk)}}
        client.put_item(TableName=TABLE, Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
        client.put_item(TableName=TABLE, Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="INDEXES")
    key = {"pk": {"S": "a"}, "sk": {"N": "0"}}
    client.get_item(TableName=TABLE, Key=key, ReturnConsumedCapacity="TOTAL")
    client.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"N": "0"}})
    for returned in ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"):
        client.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="ADD visits :one SET seen = :now",
            ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"S": returned}},
            ReturnValues=returned,
        )
    client.scan(TableName=TABLE, Limit=1, ReturnConsumedCapacity="TOTAL")
    client.scan(TableName=TABLE, Select="COUNT")
    client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}, Limit=2
    )
    client.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    with pytest.raises(local.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=TABLE,
            Item=PERSON | {"pk": {"S": "a"}, "sk": {"N": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    with pytest.raises(local.exceptions.ResourceNotFoundException):
        client.describe_table(TableName="absent")
    client.delete_table(TableName=TABLE)
    assert client.seen_operations == ALL_OPERATIONS


def test_data_file_is_owner_only_and_persists(tmp_path: Path) -> None:
    create_table(LocalDynamoDB(tmp_path))
    LocalDynamoDB(tmp_path).put_item(TableName=TABLE, Item=PERSON)
    data_file = tmp_path / "dynamodb.sqlite3"
    assert stat.S_IMODE(data_file.stat().st_mode) == 0o600
    reopened = LocalDynamoDB(tmp_path)
    assert canonical(reopened.get_item(TableName=TABLE, Key={"pk": {"S": "李雷"}})["Item"]) == canonical(PERSON)


def test_numbers_are_canonical(local: LocalDynamoDB) -> None:
    create_table(local, sort_key_type="N")
    local.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"N": "1.0"}, "v": {"N": "001.50"}})
    # "1" and "1.0" are one key, as on AWS.
    item = local.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item == {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "1.5"}}
    with pytest.raises(ClientError, match="cannot be converted into a number"):
        local.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"N": "one"}})
    with pytest.raises(ClientError, match="38 significant digits"):
        local.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"N": "1" * 39}})


# Numbers across DynamoDB's whole range: up to 12 digits, scaled by 10^-130 .. 10^110.
NUMBERS = st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-(10**12), 10**12), st.integers(-130, 110))


@settings(max_examples=300, deadline=None)
@given(st.lists(NUMBERS, min_size=2, max_size=20))
def test_number_keys_sort_as_numbers(numbers: list[Decimal]) -> None:
    assert sorted(numbers, key=lambda n: sortable("N", str(n))) == sorted(numbers)


def test_values_of_different_types_never_compare(local: LocalDynamoDB) -> None:
    # moto raises TypeError here; AWS evaluates the comparison as false.
    create_table(local)
    local.put_item(TableName=TABLE, Item=SUBJECT)
    for condition in ("s < :five", "s >= :five", "s BETWEEN :zero AND :five"):
        with pytest.raises(local.exceptions.ConditionalCheckFailedException):
            local.put_item(
                TableName=TABLE, Item=SUBJECT, ConditionExpression=condition, **placeholders_in(condition, {}, VALUES)
            )


def test_wrong_key_type_is_refused(local: LocalDynamoDB) -> None:
    create_table(local, sort_key_type="N")
    with pytest.raises(ClientError, match="The provided key element does not match the schema") as excinfo:
        local.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert error_code(excinfo) == "ValidationException"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("pk = ", 'Syntax error; token: "<EOF>"'),
        ("pk = :v AND", 'Syntax error; token: "<EOF>"'),
        ("(pk = :v", 'Syntax error; token: "<EOF>"'),
        ("pk == :v", 'Syntax error; token: "="'),
        ("pk = :undefined", "attribute value: :undefined"),
        ("#undefined = :v", "attribute name: #undefined"),
        ("nosuch(pk)", "Invalid function name; function: nosuch"),
        ("begins_with(pk, :n)", "operand type: N"),
        ("pk < :flag", "operand type: BOOL"),
    ],
)
def test_expression_errors_say_what_is_wrong(local: LocalDynamoDB, expression: str, message: str) -> None:
    create_table(local)
    values = {":v": {"S": "x"}, ":n": {"N": "1"}, ":flag": {"BOOL": True}}
    params = placeholders_in(expression, {}, values)
    with pytest.raises(ClientError) as excinfo:
        local.put_item(TableName=TABLE, Item={"pk": {"S": "a"}}, ConditionExpression=expression, **params)
    assert error_code(excinfo) == "ValidationException"
    assert message in excinfo.value.response["Error"]["Message"]
    assert excinfo.value.response["Error"]["Message"].startswith("Invalid ConditionExpression: ")


def test_unused_placeholders_are_refused_on_every_write(local: LocalDynamoDB) -> None:
    create_table(local)
    with pytest.raises(ClientError, match=r"unused in expressions: keys: \{:extra\}"):
        local.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":extra": {"S": "x"}},
        )


def test_query_filter_may_not_name_key_attributes(local: LocalDynamoDB) -> None:
    create_table(local, sort_key_type="N")
    with pytest.raises(ClientError, match="Primary key attribute: sk"):
        local.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p",
            FilterExpression="sk > :s",
            ExpressionAttributeValues={":p": {"S": "a"}, ":s": {"N": "1"}},
        )


def test_update_add_and_delete_on_sets(local: LocalDynamoDB) -> None:
    create_table(local)
    key = {"pk": {"S": "a"}}
    local.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="ADD tags :ab, visits :two",
        ExpressionAttributeValues={":ab": {"SS": ["a", "b"]}, ":two": {"N": "2"}},
    )
    local.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="ADD tags :bc, visits :two DELETE gone :a",
        ExpressionAttributeValues={":bc": {"SS": ["b", "c"]}, ":two": {"N": "2"}, ":a": {"SS": ["a"]}},
    )
    local.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="DELETE tags :ac",
        ExpressionAttributeValues={":ac": {"SS": ["a", "c"]}},
    )
    assert local.get_item(TableName=TABLE, Key=key)["Item"] == {**key, "tags": {"SS": ["b"]}, "visits": {"N": "4"}}


def test_unsupported_parameters_are_refused_not_ignored(local: LocalDynamoDB) -> None:
    create_table(local)
    with pytest.raises(ClientError, match="does not support IndexName"):
        local.query(
            TableName=TABLE,
            IndexName="by-name",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "a"}},
        )
    with pytest.raises(ClientError, match="does not support Expected"):
        local.put_item(TableName=TABLE, Item={"pk": {"S": "a"}}, Expected={"pk": {"Exists": False}})


def test_conditional_puts_race_with_one_winner(tmp_path: Path) -> None:
    create_table(LocalDynamoDB(tmp_path))
    clients = [LocalDynamoDB(tmp_path) for _ in range(2)]  # two connections, as two processes would have
    outcomes: list[str] = []

    def claim(worker: int) -> None:
        try:
            clients[worker % 2].put_item(
                TableName=TABLE,
                Item={"pk": {"S": "lock"}, "owner": {"N": str(worker)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            outcomes.append("won")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ConditionalCheckFailedException"] * 7 + ["won"]


def test_pages_stop_at_one_megabyte(local: LocalDynamoDB) -> None:
    create_table(local)
    for i in range(6):
        local.put_item(TableName=TABLE, Item={"pk": {"S": f"p{i}"}, "blob": {"B": bytes(300_000)}})
    pages = list(local.get_paginator("scan").paginate(TableName=TABLE))
    assert len(pages) > 1
    assert sum(page["Count"] for page in pages) == 6


def test_waiters(local: LocalDynamoDB) -> None:
    create_table(local)
    local.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0, "MaxAttempts": 1})
    local.delete_table(TableName=TABLE)
    local.get_waiter("table_not_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0, "MaxAttempts": 1})
