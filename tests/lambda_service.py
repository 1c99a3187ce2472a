"""AWS Lambda, played for the AWS back end's tests: moto stores the bucket but cannot run a function.

It does what S3 and Lambda do with the bucket's notification configuration: it
sees a new object (by listing the bucket, as nothing tells it), waits a moment,
and invokes `lambda.lambda_handler(event, context)` in a separate process with
the environment scripts/provision.sh gives the function, twice for each object
and at the same time, as S3's at-least-once delivery may; a run that fails is
run again, twice at most, as Lambda retries.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from facerec.s3_events import function_name, matches, s3_event

INVOKE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
handler = importlib.import_module("lambda")
handler.lambda_handler(json.load(sys.stdin), None)
"""
COPIES = 2
RETRIES = 2
RETRY_WAIT = 0.5  # Lambda waits about 1 and 2 minutes; the tests cannot
DELAY = (0.1, 0.8)  # seconds between seeing the object and invoking, drawn at random
POLL = 0.05


class LambdaService:
    def __init__(self, s3: Any, bucket: str, region: str, env: dict[str, str], root: Path, function: str) -> None:
        self.s3, self.bucket, self.region, self.env, self.root = s3, bucket, region, env, root
        self.function = function
        self.invocations: list[dict] = []  # every run: event key and exit code, for the tests to read
        self._seen: dict[str, str] = {}
        self._busy = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="lambda-service", daemon=True)

    def __enter__(self) -> LambdaService:
        self._seen = self._objects()  # what is there before is not new
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.idle()
        self._stop.set()
        self._watcher.join()

    def idle(self, timeout: float = 120.0) -> bool:
        """Wait until every object seen has been delivered and every run has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(3 * POLL)  # let the watcher see what was just written
            with self._lock:
                if self._busy == 0 and self._objects() == self._seen:
                    return True
        return False

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                current = self._objects()
                new = {key: etag for key, etag in current.items() if self._seen.get(key) != etag}
                self._seen = current
                self._busy += len(new)
            for key, etag in new.items():
                threading.Thread(target=self._deliver, args=(key, etag), daemon=True).start()
            time.sleep(POLL)

    def _objects(self) -> dict[str, str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {obj["Key"]: obj["ETag"] for page in pages for obj in page.get("Contents", [])}

    def _deliver(self, key: str, etag: str) -> None:
        try:
            configuration = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
            wanted = [
                c
                for c in configuration.get("LambdaFunctionConfigurations", [])
                if function_name(c) == self.function and matches(c, "ObjectCreated:Put", key)
            ]
            if not wanted:
                return
            size = self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
            event = s3_event(wanted[0].get("Id", ""), self.region, self.bucket, "ObjectCreated:Put", key, size, etag)
            time.sleep(random.uniform(*DELAY))
            runs = [threading.Thread(target=self._invoke, args=(event,)) for _ in range(COPIES)]
            for run in runs:
                run.start()
            for run in runs:
                run.join()
        except ClientError:  # the object went away before it could be delivered: nothing to index
            pass
        finally:
            with self._lock:
                self._busy -= 1

    def _invoke(self, event: dict) -> None:
        for _ in range(1 + RETRIES):
            done = subprocess.run(
                [sys.executable, "-c", INVOKE, str(self.root)],
                input=json.dumps(event),
                env=self.env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            with self._lock:
                self.invocations.append({"key": event["Records"][0]["s3"]["object"]["key"], "code": done.returncode})
            if done.returncode == 0:
                return
            time.sleep(RETRY_WAIT)
