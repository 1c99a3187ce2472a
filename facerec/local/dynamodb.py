"""A local DynamoDB: tables and items in one SQLite file, with boto3's interface.

Items keep DynamoDB's typed attribute values ({"S": "x"}, {"N": "1.5"},
{"B": b"..."}, {"L": [...]}, {"M": {...}}, sets, BOOL, NULL), stored as JSON
with binary values base64-encoded. Numbers are kept in DynamoDB's canonical
form, so "1.50" reads back as "1.5", as it does on AWS.

Each item's key is also stored as bytes that sort as DynamoDB sorts key values
(numbers by value, strings and binary by their bytes), so a query's key
condition, its order and ExclusiveStartKey pagination are a range scan of
SQLite's primary key. A conditional write reads, checks and writes in one
IMMEDIATE transaction: atomic across threads and across processes that share
the data folder.

Expressions (condition, key condition, filter, projection, update) are parsed
by facerec.local.dynamodb_expressions. Pages stop at Limit items or 1 MB, as on
AWS. Not supported, and refused with a ValidationException rather than
ignored: secondary indexes and the legacy parameters (Expected,
AttributesToGet, KeyConditions, ScanFilter, QueryFilter, AttributeUpdates,
ConditionalOperator). Not modelled: throughput limits, streams, TTL, backups,
transactions and batch operations; tables are ACTIVE as soon as created.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.waiter import NormalizedOperationMethod, Waiter

from facerec.local.base import LocalClient, ServiceError, operation
from facerec.local.dynamodb_expressions import (
    AttributeValue,
    Between,
    Comparison,
    Condition,
    Function,
    Item,
    Logical,
    Not,
    Placeholders,
    Value,
    apply_update,
    condition_paths,
    evaluate,
    invalid,
    number_text,
    parse_condition,
    parse_number,
    parse_projection,
    parse_update,
    project,
    type_of,
)
from facerec.local.dynamodb_expressions import Path as DocumentPath
from facerec.local.sqlite import forget_deleted, open_database, transaction
from facerec.paths import private_dir

ACCOUNT = "000000000000"
TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
TABLE_ARN = re.compile(r"arn:[^:]+:dynamodb:[^:]*:[^:]*:table/([^/]+)")
KEY_TYPES = ("S", "N", "B")
SET_TYPES = {"SS": "string", "NS": "number", "BS": "binary"}
MAX_ITEM_BYTES = 400 * 1024
MAX_PAGE_BYTES = 1024 * 1024
MAX_KEY_BYTES = (2048, 1024)  # partition key, sort key
MAX_SEGMENTS = 1_000_000
# Parameters the local DynamoDB does not implement, and what to use instead.
UNSUPPORTED = {
    "IndexName": "the table's own key (secondary indexes are not supported)",
    "Expected": "ConditionExpression",
    "ConditionalOperator": "ConditionExpression or FilterExpression",
    "AttributesToGet": "ProjectionExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "AttributeUpdates": "UpdateExpression",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL      -- JSON: what create_table fixed (key schema, billing, creation time, ...)
);
CREATE TABLE IF NOT EXISTS items (
    table_name TEXT NOT NULL,
    hash_key BLOB NOT NULL,     -- key values as bytes that sort as DynamoDB sorts them
    range_key BLOB NOT NULL,    -- empty when the table has no sort key
    size INTEGER NOT NULL,      -- DynamoDB's item size: TableSizeBytes, 1 MB pages, capacity units
    item TEXT NOT NULL,         -- JSON of the typed attribute values, binary base64-encoded
    PRIMARY KEY (table_name, hash_key, range_key)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Table:
    """A table's name and what create_table fixed about it; knows how its keys are stored."""

    name: str
    settings: dict

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(element["AttributeName"] for element in self.settings["KeySchema"])

    @property
    def hash_key(self) -> str:
        return self.key_names[0]

    @property
    def range_key(self) -> str | None:
        return self.key_names[1] if len(self.key_names) > 1 else None

    def key_type(self, name: str) -> str:
        return next(d["AttributeType"] for d in self.settings["AttributeDefinitions"] if d["AttributeName"] == name)

    def key_of(self, item: Item) -> Item:
        return {name: item[name] for name in self.key_names}

    def stored_key(self, key: Item) -> tuple[bytes, bytes]:
        """The stored key for a Key parameter: exactly the key attributes, each of its declared type."""
        if set(key) != set(self.key_names) or any(type_of(key[n]) != self.key_type(n) for n in key):
            raise invalid("The provided key element does not match the schema")
        return self._encode_key(key)

    def stored_key_of_item(self, item: Item) -> tuple[bytes, bytes]:
        for name in self.key_names:
            if name not in item:
                raise invalid(f"One or more parameter values were invalid: Missing the key {name} in the item")
            if type_of(item[name]) != self.key_type(name):
                raise invalid(
                    f"One or more parameter values were invalid: Type mismatch for key {name}"
                    f" expected: {self.key_type(name)} actual: {type_of(item[name])}"
                )
        return self._encode_key(item)

    def encode_key_value(self, name: str, value: AttributeValue) -> bytes:
        kind = self.key_type(name)
        raw = value[kind]
        if raw in ("", b""):
            empty = "string" if kind == "S" else "binary"
            raise invalid(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain"
                f" an empty {empty} value. Key: {name}"
            )
        return sortable(kind, raw)

    def _encode_key(self, item: Item) -> tuple[bytes, bytes]:
        parts = [self.encode_key_value(name, item[name]) for name in self.key_names]
        for name, limit in zip(self.key_names, MAX_KEY_BYTES, strict=False):
            if _value_size(item[name]) > limit:
                which = "hashkey" if name == self.hash_key else "range key"
                raise invalid(
                    f"One or more parameter values were invalid: Size of {which} has exceeded the maximum size"
                    f" limit of {limit} bytes"
                )
        return parts[0], parts[1] if len(parts) > 1 else b""


class LocalDynamoDB(LocalClient):
    service_name = "dynamodb"
    pattern_error = "ValidationException"

    def __init__(self, data_dir: Path, region: str = "us-east-1") -> None:
        self.region = region
        self._db = open_database(private_dir(Path(data_dir)) / "dynamodb.sqlite3", SCHEMA)
        self._db.create_function("scan_segment", 2, _scan_segment, deterministic=True)
        self._lock = threading.RLock()

    def get_waiter(self, waiter_name: str) -> Waiter:
        """boto3's waiters (table_exists, table_not_exists), polling this client."""
        model = _waiter_model()
        names = {xform_name(name): name for name in model.waiter_names}
        config = model.get_waiter(names[waiter_name]) if waiter_name in names else None
        if config is None or not hasattr(self, xform_name(config.operation)):
            raise ValueError(f"Waiter does not exist: {waiter_name}")
        method = NormalizedOperationMethod(getattr(self, xform_name(config.operation)))
        return Waiter(names[waiter_name], config, method)

    # Tables

    @operation("CreateTable")
    def create_table(
        self,
        TableName: str,
        KeySchema: list | None = None,
        AttributeDefinitions: list | None = None,
        BillingMode: str = "PROVISIONED",
        ProvisionedThroughput: dict | None = None,
        LocalSecondaryIndexes: list | None = None,
        GlobalSecondaryIndexes: list | None = None,
        DeletionProtectionEnabled: bool = False,
        **_: Any,
    ) -> dict:
        name = _table_name(TableName)
        if LocalSecondaryIndexes or GlobalSecondaryIndexes:
            raise invalid("The local DynamoDB does not support secondary indexes")
        _check_key_schema(KeySchema, AttributeDefinitions)
        read, write = _capacity_settings(BillingMode, ProvisionedThroughput)
        settings = {
            "KeySchema": KeySchema,
            "AttributeDefinitions": AttributeDefinitions,
            "BillingMode": BillingMode,
            "ReadCapacityUnits": read,
            "WriteCapacityUnits": write,
            "DeletionProtectionEnabled": DeletionProtectionEnabled,
            "TableId": str(uuid.uuid4()),
            "Created": datetime.now(timezone.utc).isoformat(),
        }
        with self._transaction(write=True) as db:
            inserted = db.execute("INSERT OR IGNORE INTO tables VALUES (?, ?)", (name, json.dumps(settings)))
            if inserted.rowcount == 0:
                raise ServiceError("ResourceInUseException", f"Table already exists: {name}")
            return {"TableDescription": self._describe(db, Table(name, settings))}

    @operation("DescribeTable")
    def describe_table(self, TableName: str) -> dict:
        with self._transaction() as db:
            return {"Table": self._describe(db, self._table(db, TableName, named_in_error=True))}

    @operation("DeleteTable")
    def delete_table(self, TableName: str) -> dict:
        with self._transaction(write=True) as db:
            table = self._table(db, TableName, named_in_error=True)
            if table.settings["DeletionProtectionEnabled"]:
                raise invalid(
                    "Resource cannot be deleted as it is currently protected against deletion."
                    " Disable deletion protection first."
                )
            description = self._describe(db, table, status="DELETING")
            db.execute("DELETE FROM items WHERE table_name = ?", (table.name,))
            db.execute("DELETE FROM tables WHERE name = ?", (table.name,))
        return {"TableDescription": description}

    @operation("ListTables")
    def list_tables(self, ExclusiveStartTableName: str = "", Limit: int = 100) -> dict:
        if Limit > 100:
            raise invalid(
                f"1 validation error detected: Value '{Limit}' at 'limit' failed to satisfy constraint:"
                " Member must have value less than or equal to 100"
            )
        with self._transaction() as db:
            rows = db.execute(
                "SELECT name FROM tables WHERE name > ? ORDER BY name LIMIT ?", (ExclusiveStartTableName, Limit + 1)
            ).fetchall()
        names = [name for (name,) in rows[:Limit]]
        result: dict = {"TableNames": names}
        if len(rows) > Limit:
            result["LastEvaluatedTableName"] = names[-1]
        return result

    # Items

    @operation("PutItem")
    def put_item(
        self,
        TableName: str,
        Item: dict,
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: dict | None = None,
        ExpressionAttributeValues: dict | None = None,
        ReturnValues: str = "NONE",
        ReturnConsumedCapacity: str = "NONE",
        **other: Any,
    ) -> dict:
        condition = _write_condition(
            other, ReturnValues, ExpressionAttributeNames, ExpressionAttributeValues, ConditionExpression
        )
        item = _checked_item(Item)
        size = _check_item_size(item)
        with self._transaction(write=True) as db:
            table = self._table(db, TableName)
            key = table.stored_key_of_item(item)
            old = self._load(db, table, key)
            _check_condition(condition, old)
            self._store(db, table, key, item, size)
        result = {"Attributes": old} if ReturnValues == "ALL_OLD" and old else {}
        return {**result, **_consumed(table, ReturnConsumedCapacity, _write_units(old, item))}

    @operation("GetItem")
    def get_item(
        self,
        TableName: str,
        Key: dict,
        ProjectionExpression: str | None = None,
        ExpressionAttributeNames: dict | None = None,
        ConsistentRead: bool = False,
        ReturnConsumedCapacity: str = "NONE",
        **other: Any,
    ) -> dict:
        _refuse_unsupported(other)
        key_item = _checked_item(Key)
        placeholders = _placeholders(ExpressionAttributeNames, None, ProjectionExpression)
        projection = _parse_projection(ProjectionExpression, placeholders)
        placeholders.check_all_used()
        with self._transaction() as db:
            table = self._table(db, TableName)
            item = self._load(db, table, table.stored_key(key_item))
        result = {} if item is None else {"Item": project(item, projection) if projection else item}
        units = _read_units(_item_size(item) if item else 0, ConsistentRead)
        return {**result, **_consumed(table, ReturnConsumedCapacity, units)}

    @operation("DeleteItem")
    def delete_item(
        self,
        TableName: str,
        Key: dict,
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: dict | None = None,
        ExpressionAttributeValues: dict | None = None,
        ReturnValues: str = "NONE",
        ReturnConsumedCapacity: str = "NONE",
        **other: Any,
    ) -> dict:
        condition = _write_condition(
            other, ReturnValues, ExpressionAttributeNames, ExpressionAttributeValues, ConditionExpression
        )
        key_item = _checked_item(Key)
        with self._transaction(write=True) as db:
            table = self._table(db, TableName)
            key = table.stored_key(key_item)
            old = self._load(db, table, key)
            _check_condition(condition, old)
            db.execute("DELETE FROM items WHERE table_name = ? AND hash_key = ? AND range_key = ?", (table.name, *key))
        forget_deleted(self._db, self._lock)
        result = {"Attributes": old} if ReturnValues == "ALL_OLD" and old else {}
        return {**result, **_consumed(table, ReturnConsumedCapacity, _write_units(old, None))}

    @operation("UpdateItem")
    def update_item(
        self,
        TableName: str,
        Key: dict,
        UpdateExpression: str | None = None,
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: dict | None = None,
        ExpressionAttributeValues: dict | None = None,
        ReturnValues: str = "NONE",
        ReturnConsumedCapacity: str = "NONE",
        **other: Any,
    ) -> dict:
        _refuse_unsupported(other)
        _check_return_values(ReturnValues, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"))
        key_item = _checked_item(Key)
        placeholders = _placeholders(
            ExpressionAttributeNames, ExpressionAttributeValues, UpdateExpression or ConditionExpression
        )
        actions = parse_update(UpdateExpression, placeholders) if UpdateExpression is not None else []
        condition = _parse_condition(ConditionExpression, "ConditionExpression", placeholders)
        placeholders.check_all_used()
        with self._transaction(write=True) as db:
            table = self._table(db, TableName)
            key = table.stored_key(key_item)
            _check_key_untouched(table, actions)
            old = self._load(db, table, key)
            _check_condition(condition, old)
            new = apply_update(old or key_item, actions)
            self._store(db, table, key, new, _check_item_size(new))
        returned = _returned_attributes(ReturnValues, old, new, [action.path for action in actions])
        result = {"Attributes": returned} if returned else {}
        return {**result, **_consumed(table, ReturnConsumedCapacity, _write_units(old, new))}

    # Reads of many items

    @operation("Scan")
    def scan(
        self,
        TableName: str,
        Limit: int | None = None,
        ExclusiveStartKey: dict | None = None,
        FilterExpression: str | None = None,
        ProjectionExpression: str | None = None,
        ExpressionAttributeNames: dict | None = None,
        ExpressionAttributeValues: dict | None = None,
        Select: str | None = None,
        Segment: int | None = None,
        TotalSegments: int | None = None,
        ConsistentRead: bool = False,
        ReturnConsumedCapacity: str = "NONE",
        **other: Any,
    ) -> dict:
        _refuse_unsupported(other)
        _check_segments(Segment, TotalSegments)
        placeholders = _placeholders(
            ExpressionAttributeNames, ExpressionAttributeValues, FilterExpression or ProjectionExpression
        )
        select = _select(Select, ProjectionExpression)
        condition = _parse_condition(FilterExpression, "FilterExpression", placeholders)
        projection = _parse_projection(ProjectionExpression, placeholders)
        placeholders.check_all_used()
        where, args = ["1"], []
        if TotalSegments is not None:
            where.append("scan_segment(hash_key, ?) = ?")
            args += [TotalSegments, Segment]
        with self._transaction() as db:
            table = self._table(db, TableName)
            if ExclusiveStartKey is not None:
                where.append("(hash_key, range_key) > (?, ?)")
                args += _start_key(table, ExclusiveStartKey)
            scanned, more, size = self._rows(db, table, " AND ".join(where), args, Limit)
        return self._page(
            table, scanned, more, size, condition, projection, select, ConsistentRead, ReturnConsumedCapacity
        )

    @operation("Query")
    def query(
        self,
        TableName: str,
        KeyConditionExpression: str | None = None,
        ScanIndexForward: bool = True,
        Limit: int | None = None,
        ExclusiveStartKey: dict | None = None,
        FilterExpression: str | None = None,
        ProjectionExpression: str | None = None,
        ExpressionAttributeNames: dict | None = None,
        ExpressionAttributeValues: dict | None = None,
        Select: str | None = None,
        ConsistentRead: bool = False,
        ReturnConsumedCapacity: str = "NONE",
        **other: Any,
    ) -> dict:
        _refuse_unsupported(other)
        if KeyConditionExpression is None:
            raise invalid(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
            )
        placeholders = _placeholders(ExpressionAttributeNames, ExpressionAttributeValues, KeyConditionExpression)
        select = _select(Select, ProjectionExpression)
        key_condition = parse_condition(KeyConditionExpression, "KeyConditionExpression", placeholders)
        condition = _parse_condition(FilterExpression, "FilterExpression", placeholders)
        projection = _parse_projection(ProjectionExpression, placeholders)
        placeholders.check_all_used()
        with self._transaction() as db:
            table = self._table(db, TableName)
            _check_filter_avoids_key(table, condition)
            hash_key, where, args = _key_condition_sql(table, key_condition)
            if ExclusiveStartKey is not None:
                start_hash, start_range = _start_key(table, ExclusiveStartKey)
                if start_hash != hash_key:
                    raise invalid("The provided starting key is outside query boundaries based on provided conditions")
                where.append("range_key > ?" if ScanIndexForward else "range_key < ?")
                args.append(start_range)
            scanned, more, size = self._rows(db, table, " AND ".join(where), args, Limit, not ScanIndexForward)
        return self._page(
            table, scanned, more, size, condition, projection, select, ConsistentRead, ReturnConsumedCapacity
        )

    # Storage

    def _transaction(self, write: bool = False):
        return transaction(self._db, self._lock, write)

    def _table(self, db: sqlite3.Connection, table_name: str, named_in_error: bool = False) -> Table:
        name = _table_name(table_name)
        row = db.execute("SELECT settings FROM tables WHERE name = ?", (name,)).fetchone()
        if row is None:
            detail = f": Table: {name} not found" if named_in_error else ""
            raise ServiceError("ResourceNotFoundException", f"Requested resource not found{detail}")
        return Table(name, json.loads(row[0]))

    def _describe(self, db: sqlite3.Connection, table: Table, status: str = "ACTIVE") -> dict:
        count, size = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items WHERE table_name = ?", (table.name,)
        ).fetchone()
        settings = table.settings
        created = datetime.fromisoformat(settings["Created"])
        description = {
            "AttributeDefinitions": settings["AttributeDefinitions"],
            "TableName": table.name,
            "KeySchema": settings["KeySchema"],
            "TableStatus": status,
            "CreationDateTime": created,
            "ProvisionedThroughput": _throughput(settings),
            "TableSizeBytes": size,
            "ItemCount": count,
            "TableArn": f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{table.name}",
            "TableId": settings["TableId"],
            "DeletionProtectionEnabled": settings["DeletionProtectionEnabled"],
        }
        if settings["BillingMode"] == "PAY_PER_REQUEST":
            description["BillingModeSummary"] = {
                "BillingMode": "PAY_PER_REQUEST",
                "LastUpdateToPayPerRequestDateTime": created,
            }
        return description

    def _load(self, db: sqlite3.Connection, table: Table, key: tuple[bytes, bytes]) -> Item | None:
        row = db.execute(
            "SELECT item FROM items WHERE table_name = ? AND hash_key = ? AND range_key = ?", (table.name, *key)
        ).fetchone()
        return None if row is None else _decode_item(row[0])

    def _store(self, db: sqlite3.Connection, table: Table, key: tuple[bytes, bytes], item: Item, size: int) -> None:
        db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)", (table.name, *key, size, _encode_item(item)))

    def _rows(
        self,
        db: sqlite3.Connection,
        table: Table,
        where: str,
        args: list,
        limit: int | None,
        descending: bool = False,
    ) -> tuple[list[Item], bool, int]:
        """Items in key order matching `where`, up to `limit` items or 1 MB; whether more follow; their size."""
        direction = "DESC" if descending else "ASC"
        cursor = db.execute(
            f"SELECT size, item FROM items WHERE table_name = ? AND {where}"
            f" ORDER BY hash_key {direction}, range_key {direction}",
            (table.name, *args),
        )
        items: list[Item] = []
        total = 0
        try:
            for size, text in cursor:
                if len(items) == limit or total >= MAX_PAGE_BYTES:
                    return items, True, total
                items.append(_decode_item(text))
                total += size
            return items, False, total
        finally:
            cursor.close()

    def _page(
        self,
        table: Table,
        scanned: list[Item],
        more: bool,
        size: int,
        condition: Condition | None,
        projection: list[DocumentPath] | None,
        select: str,
        consistent: bool,
        capacity: str,
    ) -> dict:
        matched = [item for item in scanned if condition is None or evaluate(condition, item)]
        result: dict = {"Count": len(matched), "ScannedCount": len(scanned)}
        if select != "COUNT":
            result["Items"] = [project(item, projection) if projection else item for item in matched]
        if more:
            result["LastEvaluatedKey"] = table.key_of(scanned[-1])
        return {**result, **_consumed(table, capacity, _read_units(size, consistent))}


# Request checks


def _table_name(name: str) -> str:
    # Every operation also accepts the table's ARN.
    arn = TABLE_ARN.fullmatch(name)
    if arn:
        name = arn.group(1)
    if not TABLE_NAME.fullmatch(name):
        raise invalid(
            f"1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must"
            f" satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255"
        )
    return name


def _check_key_schema(key_schema: list | None, definitions: list | None) -> None:
    if not key_schema:
        raise invalid(
            "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint:"
            " Member must not be null"
        )
    if len(key_schema) > 2:
        raise invalid(
            "1 validation error detected: Value at 'keySchema' failed to satisfy constraint:"
            " Member must have length less than or equal to 2"
        )
    if key_schema[0]["KeyType"] != "HASH":
        raise invalid("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    if len(key_schema) == 2 and key_schema[1]["KeyType"] != "RANGE":
        raise invalid("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    names = [element["AttributeName"] for element in key_schema]
    if len(set(names)) != len(names):
        raise invalid("Both the Hash Key and the Range Key element in the KeySchema have the same name")
    defined = [d["AttributeName"] for d in definitions or []]
    for d in definitions or []:
        if d["AttributeType"] not in KEY_TYPES:
            raise invalid(
                f"1 validation error detected: Value '{d['AttributeType']}' at"
                " 'attributeDefinitions.member.attributeType' failed to satisfy constraint:"
                " Member must satisfy enum value set: [B, N, S]"
            )
    if any(name not in defined for name in names):
        raise invalid(
            "One or more parameter values were invalid: Some index key attributes are not defined in"
            f" AttributeDefinitions. Keys: [{', '.join(names)}], AttributeDefinitions: [{', '.join(defined)}]"
        )
    if len(defined) != len(names):
        raise invalid(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match"
            " number of attributes defined in AttributeDefinitions"
        )


def _throughput(settings: dict) -> dict:
    # AWS reports zeros for NumberOfDecreasesToday and for an on-demand table's units, but
    # botocore's model gives each a minimum of 1; we leave zeros out so that responses
    # validate against the model (as botocore's Stubber requires of the responses it serves).
    counts = {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": settings["ReadCapacityUnits"],
        "WriteCapacityUnits": settings["WriteCapacityUnits"],
    }
    return {name: count for name, count in counts.items() if count}


def _capacity_settings(billing_mode: str, throughput: dict | None) -> tuple[int, int]:
    if billing_mode == "PAY_PER_REQUEST":
        if throughput:
            raise invalid(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be"
                " specified when BillingMode is PAY_PER_REQUEST"
            )
        return 0, 0
    if billing_mode != "PROVISIONED":
        raise invalid(
            f"1 validation error detected: Value '{billing_mode}' at 'billingMode' failed to satisfy constraint:"
            " Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        )
    if not throughput:
        raise invalid(
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be"
            " specified when BillingMode is PROVISIONED"
        )
    return throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]


def _write_condition(other: dict, return_values: str, names: dict | None, values: dict | None, expression: str | None):
    """The checks PutItem and DeleteItem share: parameters, ReturnValues and the condition, parsed."""
    _refuse_unsupported(other)
    _check_return_values(return_values, ("NONE", "ALL_OLD"))
    placeholders = _placeholders(names, values, expression)
    condition = _parse_condition(expression, "ConditionExpression", placeholders)
    placeholders.check_all_used()
    return condition


def _refuse_unsupported(params: dict) -> None:
    # Accepting these and ignoring them would silently drop a condition, filter or index.
    for name in params:
        if name in UNSUPPORTED:
            raise invalid(f"The local DynamoDB does not support {name}; use {UNSUPPORTED[name]}")


def _check_return_values(value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise invalid("Return values set to invalid value")


def _check_segments(segment: int | None, total: int | None) -> None:
    if segment is None and total is None:
        return
    if total is None:
        raise invalid(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter"
            " is present"
        )
    if segment is None:
        raise invalid(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments"
            " is present"
        )
    if total > MAX_SEGMENTS:
        raise invalid(
            f"1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint:"
            f" Member must have value less than or equal to {MAX_SEGMENTS}"
        )
    if segment >= total:
        raise invalid(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments:"
            f" Segment: {segment} is not less than TotalSegments: {total}"
        )


def _select(select: str | None, projection: str | None) -> str:
    if select is None:
        return "SPECIFIC_ATTRIBUTES" if projection else "ALL_ATTRIBUTES"
    if select == "ALL_PROJECTED_ATTRIBUTES":
        raise invalid("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    if select in ("ALL_ATTRIBUTES", "COUNT") and projection:
        raise invalid(f"Cannot specify the ProjectionExpression when choosing to get {select}")
    if select == "SPECIFIC_ATTRIBUTES" and not projection:
        raise invalid("Select type SPECIFIC_ATTRIBUTES requires a ProjectionExpression")
    if select not in ("ALL_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES"):
        raise invalid(
            f"1 validation error detected: Value '{select}' at 'select' failed to satisfy constraint: Member must"
            " satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
        )
    return select


def _start_key(table: Table, start_key: dict) -> list[bytes]:
    try:
        return list(table.stored_key(_checked_item(start_key)))
    except ServiceError as exc:
        raise invalid(f"The provided starting key is invalid: {exc.message}") from None


def _check_key_untouched(table: Table, actions: list) -> None:
    for action in actions:
        if action.path.elements[0] in table.key_names:
            raise invalid(
                f"One or more parameter values were invalid: Cannot update attribute {action.path.elements[0]}."
                " This attribute is part of the key"
            )


def _returned_attributes(return_values: str, old: Item | None, new: Item, paths: list[DocumentPath]) -> Item | None:
    if return_values == "ALL_OLD":
        return old
    if return_values == "ALL_NEW":
        return new
    if return_values == "UPDATED_OLD":
        return project(old, paths) if old else None
    if return_values == "UPDATED_NEW":
        return project(new, paths)
    return None


def _check_condition(condition: Condition | None, item: Item | None) -> None:
    if condition is not None and not evaluate(condition, item):
        raise ServiceError("ConditionalCheckFailedException", "The conditional request failed")


def _check_filter_avoids_key(table: Table, condition: Condition | None) -> None:
    if condition is None:
        return
    for path in condition_paths(condition):
        if path.elements[0] in table.key_names:
            raise invalid(
                "Filter Expression can only contain non-primary key attributes:"
                f" Primary key attribute: {path.elements[0]}"
            )


# Expressions


def _placeholders(names: dict | None, values: dict | None, any_expression: str | None) -> Placeholders:
    if any_expression is None:
        # AWS says so rather than reporting the placeholders as unused.
        if names is not None:
            raise invalid("ExpressionAttributeNames can only be specified when using expressions")
        if values is not None:
            raise invalid("ExpressionAttributeValues can only be specified when using expressions")
    if names is not None and not names:
        raise invalid("ExpressionAttributeNames must not be empty")
    if values is not None and not values:
        raise invalid("ExpressionAttributeValues must not be empty")
    checked = {}
    for placeholder, value in (values or {}).items():
        try:
            checked[placeholder] = _checked_value(value)
        except ServiceError as exc:
            raise invalid(
                f"ExpressionAttributeValues contains invalid value: {exc.message} for key {placeholder}"
            ) from None
    return Placeholders(names, checked)


def _parse_condition(text: str | None, kind: str, placeholders: Placeholders) -> Condition | None:
    return None if text is None else parse_condition(text, kind, placeholders)


def _parse_projection(text: str | None, placeholders: Placeholders) -> list[DocumentPath] | None:
    return None if text is None else parse_projection(text, placeholders)


def _key_condition_sql(table: Table, node: Condition) -> tuple[bytes, list[str], list]:
    """The partition key's stored value, and SQL conditions with their arguments, for a KeyConditionExpression."""
    conditions: dict[str, tuple[str, tuple[AttributeValue, ...]]] = {}
    for name, op, values in _key_conditions(node):
        if name in conditions:
            raise invalid("KeyConditionExpressions must only contain one condition per key")
        if name in table.key_names and any(type_of(v) != table.key_type(name) for v in values):
            raise invalid(
                "One or more parameter values were invalid: Condition parameter type does not match schema type"
            )
        conditions[name] = (op, values)
    if table.hash_key not in conditions:
        raise invalid(f"Query condition missed key schema element: {table.hash_key}")
    if any(name not in table.key_names for name in conditions):
        if table.range_key and table.range_key not in conditions:
            raise invalid(f"Query condition missed key schema element: {table.range_key}")
        raise invalid("Query key condition not supported")
    op, (hash_value,) = conditions[table.hash_key]
    if op != "=":
        raise invalid("Query key condition not supported")
    hash_key = table.encode_key_value(table.hash_key, hash_value)
    where, args = ["hash_key = ?"], [hash_key]
    if table.range_key in conditions:
        op, values = conditions[table.range_key]
        kind = table.key_type(table.range_key)
        bounds = [sortable(kind, value[kind]) for value in values]
        if op == "begins_with":
            if kind == "N":
                raise invalid(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function;"
                    " operator or function: begins_with, operand type: N"
                )
            where.append("substr(range_key, 1, ?) = ?")
            args += [len(bounds[0]), bounds[0]]
        elif op == "BETWEEN":
            where.append("range_key BETWEEN ? AND ?")
            args += bounds
        else:
            where.append(f"range_key {op} ?")  # op is one of =, <, <=, >, >=
            args += bounds
    return hash_key, where, args


def _key_conditions(node: Condition) -> list[tuple[str, str, tuple[AttributeValue, ...]]]:
    """(attribute, operator, values) for each condition of a key condition's conjunction."""
    if isinstance(node, Logical) and node.op == "AND":
        return _key_conditions(node.left) + _key_conditions(node.right)
    if isinstance(node, Comparison) and node.op != "<>":
        return [(_key_attribute(node.left), node.op, (_key_value(node.right),))]
    if isinstance(node, Between):
        return [(_key_attribute(node.operand), "BETWEEN", (_key_value(node.low), _key_value(node.high)))]
    if isinstance(node, Function) and node.name == "begins_with":
        return [(_key_attribute(node.args[0]), "begins_with", (_key_value(node.args[1]),))]
    if isinstance(node, Logical):
        operator = node.op
    elif isinstance(node, Not):
        operator = "NOT"
    elif isinstance(node, Comparison):
        operator = node.op
    elif isinstance(node, Function):
        operator = node.name
    else:
        operator = "IN"
    raise invalid(f"Invalid operator used in KeyConditionExpression: {operator}")


def _key_attribute(operand: Any) -> str:
    if not isinstance(operand, DocumentPath):
        raise invalid("Invalid KeyConditionExpression: a key condition must name a key attribute, then a value")
    if len(operand.elements) != 1 or not isinstance(operand.elements[0], str):
        raise invalid("KeyConditionExpressions cannot have conditions on nested attributes")
    return operand.elements[0]


def _key_value(operand: Any) -> AttributeValue:
    if not isinstance(operand, Value):
        raise invalid("Invalid KeyConditionExpression: a key condition must compare a key attribute with a value")
    return operand.value


# Attribute values


def _checked_item(item: dict) -> Item:
    return {name: _checked_value(value) for name, value in item.items()}


def _checked_value(value: dict) -> AttributeValue:
    """The value as stored: exactly one type, numbers canonical, binary as bytes, no empty or duplicate sets."""
    if not value:
        raise invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    if len(value) > 1:
        raise invalid(
            "Supplied AttributeValue has more than one datatypes set,"
            " must contain exactly one of the supported datatypes"
        )
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return {"N": number_text(parse_number(inner))}
    if kind == "B":
        return {"B": _blob(inner)}
    if kind == "NULL" and inner is not True:
        raise invalid(
            "One or more parameter values were invalid: Null attribute value types must have the value of true"
        )
    if kind in SET_TYPES:
        return {kind: _checked_set(kind, inner)}
    if kind == "L":
        return {"L": [_checked_value(member) for member in inner]}
    if kind == "M":
        return {"M": _checked_item(inner)}
    return {kind: inner}


def _checked_set(kind: str, members: list) -> list:
    if not members:
        raise invalid(f"One or more parameter values were invalid: An {SET_TYPES[kind]} set  may not be empty")
    if kind == "NS":
        members = [number_text(parse_number(m)) for m in members]
    elif kind == "BS":
        members = [_blob(m) for m in members]
    if len(set(members)) != len(members):
        raise invalid(
            f"One or more parameter values were invalid: Input collection [{', '.join(map(str, members))}]"
            " contains duplicates."
        )
    return members


def _blob(value: Any) -> bytes:
    # What botocore sends for a blob member: bytes as they are, text as UTF-8, a file's contents.
    if isinstance(value, str):
        return value.encode("utf-8")
    if hasattr(value, "read"):
        return value.read()
    return bytes(value)


def _check_item_size(item: Item) -> int:
    size = _item_size(item)
    if size > MAX_ITEM_BYTES:
        raise invalid("Item size has exceeded the maximum allowed size")
    return size


def _item_size(item: Item) -> int:
    """DynamoDB's size of an item: attribute names and values, as its size and capacity rules count them."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    kind = type_of(value)
    inner = value[kind]
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":
        return len(inner)
    if kind == "N":
        return _number_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in SET_TYPES:
        return sum(_value_size({kind[0]: member}) for member in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(member) for member in inner)
    return 3 + sum(1 + len(name.encode("utf-8")) + _value_size(member) for name, member in inner.items())


def _number_size(text: str) -> int:
    # About one byte per two significant digits, plus one.
    digits = text.lstrip("-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


# Storage encoding


def sortable(kind: str, raw: Any) -> bytes:
    """A key value as bytes whose byte order is DynamoDB's order of key values of that type."""
    if kind == "S":
        return raw.encode("utf-8")
    if kind == "B":
        return raw
    return _sortable_number(Decimal(raw))


def _sortable_number(number: Decimal) -> bytes:
    # Zero sorts between negatives (first byte 0) and positives (first byte 2). A nonzero
    # number is 0.d1d2... x 10^e with d1 != 0: a bigger e means a bigger magnitude, and with
    # equal e the digit strings (without trailing zeros) compare as the magnitudes do.
    # Negatives invert both and end with ":" (above every digit), so that -0.12 > -0.123.
    if number.is_zero():
        return b"\x01"
    sign, digits, exponent = number.as_tuple()
    text = "".join(map(str, digits))
    magnitude = exponent + len(text)  # within about -130..126: fits two bytes after biasing
    text = text.rstrip("0")
    if not sign:
        return b"\x02" + (magnitude + 1000).to_bytes(2, "big") + text.encode("ascii")
    inverted = "".join(str(9 - int(d)) for d in text)
    return b"\x00" + (1000 - magnitude).to_bytes(2, "big") + inverted.encode("ascii") + b":"


def _encode_item(item: Item) -> str:
    return json.dumps({name: _to_json(value) for name, value in item.items()}, ensure_ascii=False)


def _decode_item(text: str) -> Item:
    return {name: _from_json(value) for name, value in json.loads(text).items()}


def _to_json(value: AttributeValue) -> dict:
    kind = type_of(value)
    inner = value[kind]
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(m).decode("ascii") for m in inner]}
    if kind == "L":
        return {"L": [_to_json(m) for m in inner]}
    if kind == "M":
        return {"M": {k: _to_json(m) for k, m in inner.items()}}
    return value


def _from_json(value: dict) -> AttributeValue:
    kind = type_of(value)
    inner = value[kind]
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(m) for m in inner]}
    if kind == "L":
        return {"L": [_from_json(m) for m in inner]}
    if kind == "M":
        return {"M": {k: _from_json(m) for k, m in inner.items()}}
    return value


def _scan_segment(hash_key: bytes, total_segments: int) -> int:
    # Which of a parallel scan's segments an item belongs to: a stable hash of its partition key.
    return int.from_bytes(hashlib.blake2b(hash_key, digest_size=8).digest(), "big") % total_segments


# Capacity


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def _write_units(old: Item | None, new: Item | None) -> float:
    size = max(_item_size(old) if old else 0, _item_size(new) if new else 0)
    return float(max(1, math.ceil(size / 1024)))


def _consumed(table: Table, requested: str, units: float) -> dict:
    if requested not in ("TOTAL", "INDEXES"):
        return {}
    capacity: dict = {"TableName": table.name, "CapacityUnits": units}
    if requested == "INDEXES":
        capacity["Table"] = {"CapacityUnits": units}
    return {"ConsumedCapacity": capacity}


@functools.cache
def _waiter_model():
    return botocore.session.get_session().get_waiter_model("dynamodb")
