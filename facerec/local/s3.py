"""A local S3: buckets are folders in the data folder, objects are files in them.

Object files are named by the SHA-256 of their key, so no key, however it is
spelt ("../../etc/passwd", "a/b/../c", 1024 bytes of UTF-8), ever becomes a
path outside its bucket's folder. Keys, sizes, ETags and metadata live in an
SQLite index beside them, which also gives ordered listing with pagination.

A put writes the file, then its row; a delete removes the file, then its row;
so a crash leaves at most a file no row names or a row whose file is gone, and
`sweep` (run when the bucket opens, and by reindex) removes both. Notifications
go into a queue in the same transaction as the row, delivered asynchronously
(facerec.local.delivery).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.response import StreamingBody

from facerec.aws_errors import (
    AwsError,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidArgument,
    InvalidBucketName,
    NoSuchBucket,
    NoSuchKey,
    NotFound,
)
from facerec.local.base import LocalClient, operation
from facerec.local.delivery import SCHEMA as DELIVERY_SCHEMA
from facerec.local.delivery import Courier, Functions
from facerec.local.sqlite import forget_deleted, open_database, transaction
from facerec.paths import private_dir, write_private
from facerec.s3_events import invocations
from facerec.settings import NAME_RULES

VALID_BUCKET = re.compile(r"[a-zA-Z0-9.\-_]{1,255}")  # botocore's check before sending
# S3's own rule for new buckets (3-63 lowercase letters, digits, dots and hyphens), the one settings check.
BUCKET_NAME = re.compile(NAME_RULES["S3_BUCKET_NAME"][0])
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (bucket TEXT PRIMARY KEY, configuration TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    modified TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
"""
    + DELIVERY_SCHEMA
)
# A file no row names is left alone this long: another process may be between writing it and its row.
SWEEP_AFTER_SECONDS = 60.0


class LocalS3(LocalClient):
    service_name = "s3"

    def __init__(
        self,
        data_dir: Path,
        region: str = "us-east-1",
        functions: Functions | None = None,
        adversarial_delivery: bool = False,
    ) -> None:
        # Lambda functions by name: what a bucket notification's LambdaFunctionArn invokes.
        self.functions: Functions = functions if functions is not None else {}
        self.root = private_dir(private_dir(Path(data_dir)) / "s3")
        self.region = region
        self._db = open_database(self.root / "index.sqlite3", SCHEMA)
        self._lock = threading.RLock()
        self.sweep()
        self.courier = Courier(self._db, self._lock, self.functions, adversarial_delivery)

    def close(self) -> None:
        """Stop delivering, once the deliveries under way have finished, and close the bucket's database."""
        self.courier.close()
        with self._lock:
            self._db.close()

    # Buckets

    @operation("CreateBucket")
    def create_bucket(self, Bucket: str, **_: Any) -> dict:
        folder = self._bucket_dir(Bucket)  # before any row: a refused name leaves nothing behind
        if not BUCKET_NAME.fullmatch(Bucket):
            raise InvalidBucketName()
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO buckets VALUES (?, ?)", (Bucket, _now().isoformat()))
            if cursor.rowcount == 0:
                raise BucketAlreadyOwnedByYou()
        private_dir(folder)
        return {"Location": f"/{Bucket}"}

    @operation("HeadBucket")
    def head_bucket(self, Bucket: str, **_: Any) -> dict:
        self._require_bucket(Bucket, missing=NotFound)
        return {"BucketRegion": self.region}

    @operation("ListBuckets")
    def list_buckets(self, **_: Any) -> dict:
        with self._lock:
            rows = self._db.execute("SELECT name, created FROM buckets ORDER BY name").fetchall()
        return {
            "Buckets": [{"Name": n, "CreationDate": datetime.fromisoformat(c)} for n, c in rows],
            "Owner": {"ID": "local"},
        }

    @operation("DeleteBucket")
    def delete_bucket(self, Bucket: str, **_: Any) -> dict:
        with self._lock:
            self._require_bucket(Bucket)
            if self._db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (Bucket,)).fetchone():
                raise BucketNotEmpty()
            self._db.execute("DELETE FROM buckets WHERE name = ?", (Bucket,))
        folder = self._bucket_dir(Bucket)
        if folder.exists():
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
        return {}

    # Objects

    @operation("PutObject")
    def put_object(
        self,
        Bucket: str,
        Key: str,
        Body: Any = b"",
        Metadata: dict | None = None,
        ContentType: str = "",
        **_: Any,
    ) -> dict:
        self._require_bucket(Bucket)
        data = Body.read() if hasattr(Body, "read") else (Body.encode() if isinstance(Body, str) else bytes(Body))
        etag = f'"{hashlib.md5(data).hexdigest()}"'
        path = self._object_path(Bucket, Key)
        write_private(path, data)
        with transaction(self._db, self._lock) as db:
            db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    Bucket,
                    Key,
                    len(data),
                    etag,
                    ContentType or "binary/octet-stream",
                    json.dumps({k.lower(): v for k, v in (Metadata or {}).items()}),
                    _now().isoformat(),
                ),
            )
            self._notify(db, Bucket, "ObjectCreated:Put", Key, len(data), etag)
        self.courier.wake()
        return {"ETag": etag}

    @operation("GetObject")
    def get_object(self, Bucket: str, Key: str, **_: Any) -> dict:
        head = self._head(Bucket, Key, missing=NoSuchKey)
        data = self._object_path(Bucket, Key).read_bytes()
        return {**head, "Body": StreamingBody(io.BytesIO(data), len(data))}

    @operation("HeadObject")
    def head_object(self, Bucket: str, Key: str, **_: Any) -> dict:
        return self._head(Bucket, Key, missing=NotFound)

    @operation("DeleteObject")
    def delete_object(self, Bucket: str, Key: str, **_: Any) -> dict:
        self._require_bucket(Bucket)
        self._object_path(Bucket, Key).unlink(missing_ok=True)
        with transaction(self._db, self._lock) as db:
            db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (Bucket, Key))
            self._notify(db, Bucket, "ObjectRemoved:Delete", Key, 0, "")
        forget_deleted(self._db, self._lock)
        self.courier.wake()
        return {}

    @operation("ListObjectsV2")
    def list_objects_v2(
        self,
        Bucket: str,
        Prefix: str = "",
        MaxKeys: int = 1000,
        ContinuationToken: str = "",
        StartAfter: str = "",
        **_: Any,
    ) -> dict:
        self._require_bucket(Bucket)
        after = ContinuationToken or StartAfter
        limit = max(0, min(MaxKeys, 1000))
        with self._lock:
            rows = self._db.execute(
                "SELECT key, size, etag, modified FROM objects WHERE bucket = ? AND key > ?"
                " AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
                (Bucket, after, len(Prefix), Prefix, limit + 1),
            ).fetchall()
        page, more = rows[:limit], len(rows) > limit
        result: dict = {
            "IsTruncated": more,
            "Name": Bucket,
            "Prefix": Prefix,
            "MaxKeys": MaxKeys,
            "KeyCount": len(page),
            "Contents": [
                {"Key": k, "Size": s, "ETag": e, "LastModified": datetime.fromisoformat(m), "StorageClass": "STANDARD"}
                for k, s, e, m in page
            ],
        }
        if not page:
            del result["Contents"]
        if ContinuationToken:
            result["ContinuationToken"] = ContinuationToken
        if StartAfter:
            result["StartAfter"] = StartAfter
        if more:
            result["NextContinuationToken"] = page[-1][0]
        return result

    # Notifications

    @operation("PutBucketNotificationConfiguration")
    def put_bucket_notification_configuration(self, Bucket: str, NotificationConfiguration: dict, **_: Any) -> dict:
        self._require_bucket(Bucket)
        for config in NotificationConfiguration.get("LambdaFunctionConfigurations", []):
            name = config["LambdaFunctionArn"].rsplit(":", 1)[-1]
            if name not in self.functions:
                raise InvalidArgument(f"Unable to validate the following destination configurations: {name}")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO notifications VALUES (?, ?)", (Bucket, json.dumps(NotificationConfiguration))
            )
        return {}

    @operation("GetBucketNotificationConfiguration")
    def get_bucket_notification_configuration(self, Bucket: str, **_: Any) -> dict:
        self._require_bucket(Bucket)
        return self._notification_configuration(Bucket)

    def _notification_configuration(self, bucket: str) -> dict:
        with self._lock:
            row = self._db.execute("SELECT configuration FROM notifications WHERE bucket = ?", (bucket,)).fetchone()
        return json.loads(row[0]) if row else {}

    def _notify(self, db: sqlite3.Connection, bucket: str, event_name: str, key: str, size: int, etag: str) -> None:
        """Queue the invocations this event triggers, in the transaction that changes the object."""
        configuration = self._notification_configuration(bucket)
        for function, event in invocations(configuration, self.region, bucket, event_name, key, size, etag):
            self.courier.enqueue(db, function, event)

    # Recovery

    def sweep(self) -> None:
        """Remove what a crash left behind: files no row names (half-written ones too), rows whose file is gone."""
        with self._lock:
            rows = self._db.execute("SELECT bucket, key FROM objects").fetchall()
        named = {self._object_path(bucket, key): (bucket, key) for bucket, key in rows}
        cutoff = time.time() - SWEEP_AFTER_SECONDS
        for folder in (p for p in self.root.iterdir() if p.is_dir()):
            for path in folder.iterdir():
                if path not in named and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
        gone = [row for path, row in named.items() if not path.exists()]
        if gone:
            with transaction(self._db, self._lock) as db:
                db.executemany("DELETE FROM objects WHERE bucket = ? AND key = ?", gone)
            forget_deleted(self._db, self._lock)

    # Helpers

    def _head(self, bucket: str, key: str, missing: type[AwsError]) -> dict:
        self._require_bucket(bucket)
        with self._lock:
            row = self._db.execute(
                "SELECT size, etag, content_type, metadata, modified FROM objects WHERE bucket = ? AND key = ?",
                (bucket, key),
            ).fetchone()
        if row is None:
            raise missing()
        size, etag, content_type, metadata, modified = row
        return {
            "ContentLength": size,
            "ETag": etag,
            "ContentType": content_type,
            "Metadata": json.loads(metadata),
            "LastModified": datetime.fromisoformat(modified),
        }

    def _require_bucket(self, bucket: str, missing: type[AwsError] = NoSuchBucket) -> None:
        self._bucket_dir(bucket)
        with self._lock:
            found = self._db.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone()
        if not found:
            raise missing()

    def _bucket_dir(self, bucket: str) -> Path:
        # botocore's rule before sending, then S3's answer to the two names that are not folders of their own.
        if not VALID_BUCKET.fullmatch(bucket):
            raise ParamValidationError(
                report=f'Invalid bucket name "{bucket}": Bucket name must match the regex "{VALID_BUCKET.pattern}"'
            )
        if bucket in {".", ".."}:
            raise InvalidBucketName()
        return self.root / bucket

    def _object_path(self, bucket: str, key: str) -> Path:
        return self._bucket_dir(bucket) / hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)
