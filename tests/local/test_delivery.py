"""The local bucket delivers events as S3 and Lambda do: later, elsewhere, at least once, twice at worst."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import facerec.local.s3 as local_s3
from facerec.local.s3 import LocalS3
from tests.conftest import ROOT

BUCKET = "photos"
NOTIFICATION = {
    "LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:indexer", "Events": ["s3:ObjectCreated:*"]}
    ]
}


def bucket(folder: Path, function, adversarial: bool = False) -> LocalS3:
    s3 = LocalS3(folder, functions={"indexer": function}, adversarial_delivery=adversarial)
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=NOTIFICATION)
    return s3


def test_put_object_returns_before_the_function_runs_elsewhere(tmp_path: Path) -> None:
    release, ran_on = threading.Event(), []

    def slow(event, context):
        ran_on.append(threading.current_thread())
        release.wait(10)

    s3 = bucket(tmp_path, slow)
    s3.put_object(Bucket=BUCKET, Key="index/a.jpg", Body=b"x")  # returns while the function waits
    release.set()
    assert s3.courier.idle()
    assert len(ran_on) == 1 and ran_on[0] is not threading.current_thread()


def test_adversarial_delivery_runs_every_event_twice_at_once(tmp_path: Path) -> None:
    both_running = threading.Barrier(2, timeout=10)
    keys = []

    def racing(event, context):
        keys.append(event["Records"][0]["s3"]["object"]["key"])
        both_running.wait()  # raises BrokenBarrierError unless the other delivery runs meanwhile

    s3 = bucket(tmp_path, racing, adversarial=True)
    started = time.monotonic()
    s3.put_object(Bucket=BUCKET, Key="index/a.jpg", Body=b"x")
    assert time.monotonic() - started < 0.1  # the delay is the delivery's, not the writer's
    assert s3.courier.idle()
    assert keys == ["index/a.jpg", "index/a.jpg"]


PUT_AND_DIE = """
import os, sys
sys.path.insert(0, sys.argv[1])
from facerec.local.s3 import LocalS3
s3 = LocalS3(sys.argv[2], functions={"indexer": lambda event, context: None}, adversarial_delivery=True)
s3.put_object(Bucket="photos", Key="index/orphaned.jpg", Body=b"x")
os._exit(9)  # before the delivery's delay is over: as a kill right after PutObject
"""


def test_an_event_of_a_killed_process_is_delivered_by_the_next_one(tmp_path: Path) -> None:
    bucket(tmp_path, lambda event, context: None)
    died = subprocess.run([sys.executable, "-c", PUT_AND_DIE, str(ROOT), str(tmp_path)])
    assert died.returncode == 9
    delivered = []
    s3 = bucket(tmp_path, lambda event, context: delivered.append(event["Records"][0]["s3"]["object"]["key"]))
    assert s3.courier.idle()
    assert delivered == ["index/orphaned.jpg", "index/orphaned.jpg"]  # both copies the dead process queued


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_a_delete_cut_short_leaves_no_photo_behind_and_the_next_open_sweeps_its_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = bucket(tmp_path, lambda event, context: None)
    s3.put_object(Bucket=BUCKET, Key="index/a.jpg", Body=b"PHOTO-OF-ZEBULON", Metadata={"fullname": "Zebulon"})
    assert s3.courier.idle()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process stops between the file and its row

    monkeypatch.setattr(local_s3, "transaction", crash)
    with pytest.raises(KeyboardInterrupt):
        s3.delete_object(Bucket=BUCKET, Key="index/a.jpg")
    monkeypatch.undo()
    assert b"PHOTO-OF-ZEBULON" not in all_bytes(tmp_path)  # the photo went first

    reopened = bucket(tmp_path, lambda event, context: None)
    assert reopened.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    assert b"Zebulon" not in all_bytes(tmp_path)


def test_opening_sweeps_half_written_and_unnamed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = bucket(tmp_path, lambda event, context: None)
    s3.put_object(Bucket=BUCKET, Key="index/kept.jpg", Body=b"kept")
    folder = tmp_path / "s3" / BUCKET
    half_written = folder / ".incoming-abc"
    half_written.write_bytes(b"HALF-WRITTEN")
    unnamed = folder / ("0" * 64)
    unnamed.write_bytes(b"NO-ROW")
    fresh = folder / ".incoming-now"
    fresh.write_bytes(b"being written by another process")

    monkeypatch.setattr(local_s3, "SWEEP_AFTER_SECONDS", 0.5)
    old = time.time() - 10
    for path in (half_written, unnamed):
        os.utime(path, (old, old))
    bucket(tmp_path, lambda event, context: None)
    assert not half_written.exists() and not unnamed.exists()
    assert fresh.exists()  # too young: its writer may be about to add its row
    assert s3.get_object(Bucket=BUCKET, Key="index/kept.jpg")["Body"].read() == b"kept"


def test_a_delete_waits_for_a_reader_to_fold_the_log(tmp_path: Path) -> None:
    s3 = bucket(tmp_path, lambda event, context: None)
    s3.put_object(Bucket=BUCKET, Key="index/a.jpg", Body=b"x", Metadata={"fullname": "Zebulon"})
    assert s3.courier.idle()
    reader = sqlite3.connect(tmp_path / "s3" / "index.sqlite3", isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM objects").fetchone()  # another process, mid-read

    def finish_reading() -> None:
        time.sleep(0.5)
        reader.execute("COMMIT")

    threading.Thread(target=finish_reading).start()
    s3.delete_object(Bucket=BUCKET, Key="index/a.jpg")
    assert b"Zebulon" not in all_bytes(tmp_path)
    assert (tmp_path / "s3" / "index.sqlite3-wal").stat().st_size == 0
    reader.close()
