"""A local DynamoDB the size of its use: the table of names lambda.py and the service keep.

It implements what they call, with boto3's interface and AWS's answers:
CreateTable, DescribeTable, GetItem, PutItem and DeleteItem (with the
conditions lambda.py's claim needs), and a paginated Scan. Tables have a hash
key only. Items keep DynamoDB's typed values ({"S": "x"}, {"L": [...]}, ...)
as JSON, binary values base64-encoded. A conditional write reads, checks and
writes in one IMMEDIATE transaction: atomic across threads and processes.

Anything else (another operation, another condition form, a sort key, an
index) raises an error that names it as not supported by the local table,
rather than being half-emulated.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore import xform_name

from facerec.aws_errors import (
    ConditionalCheckFailedException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from facerec.local.base import LocalClient, operation
from facerec.local.sqlite import forget_deleted, open_database, transaction
from facerec.paths import private_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    table_name TEXT NOT NULL,
    hash_key TEXT NOT NULL,
    item TEXT NOT NULL,  -- JSON of the typed attribute values, binary base64-encoded
    PRIMARY KEY (table_name, hash_key)
) WITHOUT ROWID;
"""
MAX_PAGE_BYTES = 1024 * 1024  # a Scan page stops at 1 MB, as on AWS
# The condition forms lambda.py's claim uses: attribute_[not_]exists(name), and name = :value.
EXISTS = re.compile(r"\s*attribute_(not_)?exists\s*\(\s*(#?\w+)\s*\)\s*")
EQUALS = re.compile(r"\s*(#?\w+)\s*=\s*(:\w+)\s*")
SUPPORTED = ("CreateTable", "DescribeTable", "GetItem", "PutItem", "DeleteItem", "Scan")


class LocalDynamoDB(LocalClient):
    service_name = "dynamodb"
    pattern_error = ValidationException

    def __init__(self, data_dir: Path, region: str = "us-east-1") -> None:
        self.region = region
        self._db = open_database(private_dir(Path(data_dir)) / "dynamodb.sqlite3", SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __getattr__(self, name: str) -> Any:
        operations = {xform_name(op): op for op in self.service_model.operation_names}
        if name in operations:
            raise NotImplementedError(
                f"{operations[name]} is not supported by the local table (it supports {', '.join(SUPPORTED)})"
            )
        raise AttributeError(name)

    @operation("CreateTable")
    def create_table(
        self, TableName: str, KeySchema: list, AttributeDefinitions: list, BillingMode: str = "PROVISIONED", **other
    ) -> dict:
        _refuse(other, ("ProvisionedThroughput", "DeletionProtectionEnabled"))
        if [k["KeyType"] for k in KeySchema] != ["HASH"]:
            raise ValidationException("A sort key is not supported by the local table")
        hash_key = KeySchema[0]["AttributeName"]
        if [(d["AttributeName"], d["AttributeType"]) for d in AttributeDefinitions] != [(hash_key, "S")]:
            raise ValidationException("The local table's key is one string attribute, defined once")
        description = {
            "TableName": TableName,
            "KeySchema": KeySchema,
            "AttributeDefinitions": AttributeDefinitions,
            "TableStatus": "ACTIVE",
            "CreationDateTime": datetime.now(timezone.utc).isoformat(),
            "TableArn": f"arn:aws:dynamodb:{self.region}:000000000000:table/{TableName}",
            "BillingModeSummary": {"BillingMode": BillingMode},
        }
        with transaction(self._db, self._lock) as db:
            if db.execute("SELECT 1 FROM tables WHERE name = ?", (TableName,)).fetchone():
                raise ResourceInUseException(f"Table already exists: {TableName}")
            db.execute("INSERT INTO tables VALUES (?, ?)", (TableName, json.dumps(description)))
        return {"TableDescription": _described(description)}

    @operation("DescribeTable")
    def describe_table(self, TableName: str) -> dict:
        with transaction(self._db, self._lock, write=False) as db:
            return {"Table": _described(self._table(db, TableName))}

    @operation("PutItem")
    def put_item(self, TableName: str, Item: dict, **other: Any) -> dict:
        condition = _condition(other)
        with transaction(self._db, self._lock) as db:
            key = _key_value(self._table(db, TableName), Item, "item")
            _check(condition, self._load(db, TableName, key))
            db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?)", (TableName, key, _dumps(Item)))
        return {}

    @operation("GetItem")
    def get_item(self, TableName: str, Key: dict, ConsistentRead: bool = False, **other: Any) -> dict:
        _refuse(other, ())
        with transaction(self._db, self._lock, write=False) as db:
            item = self._load(db, TableName, _key_value(self._table(db, TableName), Key, "key"))
        return {"Item": item} if item is not None else {}

    @operation("DeleteItem")
    def delete_item(self, TableName: str, Key: dict, **other: Any) -> dict:
        condition = _condition(other)
        with transaction(self._db, self._lock) as db:
            key = _key_value(self._table(db, TableName), Key, "key")
            _check(condition, self._load(db, TableName, key))
            db.execute("DELETE FROM items WHERE table_name = ? AND hash_key = ?", (TableName, key))
        forget_deleted(self._db, self._lock)  # a deleted person's name must not stay in the log
        return {}

    @operation("Scan")
    def scan(
        self,
        TableName: str,
        Limit: int | None = None,
        ExclusiveStartKey: dict | None = None,
        ConsistentRead: bool = False,
        **other: Any,
    ) -> dict:
        _refuse(other, ())
        with transaction(self._db, self._lock, write=False) as db:
            table = self._table(db, TableName)
            after = _key_value(table, ExclusiveStartKey, "key") if ExclusiveStartKey else ""
            rows = db.execute(
                "SELECT hash_key, item FROM items WHERE table_name = ? AND hash_key > ? ORDER BY hash_key",
                (TableName, after),
            )
            items, size, last = [], 0, None
            for key, text in rows:
                if (Limit is not None and len(items) == Limit) or size >= MAX_PAGE_BYTES:
                    break
                items.append(_loads(text))
                size += len(text)
                last = key
            else:
                last = None
        page: dict = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        if last is not None:
            page["LastEvaluatedKey"] = {_hash_key(table): {"S": last}}
        return page

    def _table(self, db, name: str) -> dict:
        row = db.execute("SELECT description FROM tables WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ResourceNotFoundException("Requested resource not found")
        return json.loads(row[0])

    def _load(self, db, table: str, key: str) -> dict | None:
        row = db.execute("SELECT item FROM items WHERE table_name = ? AND hash_key = ?", (table, key)).fetchone()
        return _loads(row[0]) if row else None


def _described(description: dict) -> dict:
    return {**description, "CreationDateTime": datetime.fromisoformat(description["CreationDateTime"])}


def _hash_key(table: dict) -> str:
    return table["KeySchema"][0]["AttributeName"]


def _key_value(table: dict, item: dict, what: str) -> str:
    """The string value of the table's key in `item` (a Key must hold nothing else)."""
    name = _hash_key(table)
    value = item.get(name, {})
    if (what == "key" and set(item) != {name}) or set(value) != {"S"} or not value["S"]:
        raise ValidationException("The provided key element does not match the schema")
    return value["S"]


def _refuse(params: dict, ignored: tuple[str, ...]) -> None:
    """Parameters the local table does not implement: named, never silently ignored."""
    unsupported = sorted(set(params) - set(ignored) - {"ReturnConsumedCapacity"})
    if unsupported:
        raise ValidationException(f"Not supported by the local table: {', '.join(unsupported)}")


def _condition(params: dict) -> tuple[str, str, Any] | None:
    """A write's ConditionExpression as (form, attribute, value), if it is one of the supported forms."""
    expression = params.pop("ConditionExpression", None)
    names = params.pop("ExpressionAttributeNames", {})
    values = params.pop("ExpressionAttributeValues", {})
    _refuse(params, ())
    if expression is None:
        return None
    if found := EXISTS.fullmatch(expression):
        form, name, value = ("not_exists" if found[1] else "exists"), found[2], None
    elif found := EQUALS.fullmatch(expression):
        form, name, value = "equals", found[1], values.get(found[2])
        if value is None:
            raise ValidationException(f"An expression attribute value is not defined: {found[2]}")
    else:
        raise ValidationException(
            f"ConditionExpression {expression!r} is not supported by the local table"
            " (it supports attribute_exists(a), attribute_not_exists(a) and a = :v)",
        )
    return form, names.get(name, name) if name.startswith("#") else name, value


def _check(condition: tuple[str, str, Any] | None, old: dict | None) -> None:
    if condition is None:
        return
    form, name, value = condition
    present = old is not None and name in old
    held = {"exists": present, "not_exists": not present, "equals": present and old[name] == value}[form]
    if not held:
        raise ConditionalCheckFailedException()


def _dumps(item: dict) -> str:
    return json.dumps(item, default=lambda b: {"__bytes__": base64.b64encode(b).decode()})


def _loads(text: str) -> dict:
    return json.loads(text, object_hook=lambda o: base64.b64decode(o["__bytes__"]) if "__bytes__" in o else o)
