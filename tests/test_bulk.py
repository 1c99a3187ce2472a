"""Bulk add: one photo's failure, of any kind, never hides the photos already added."""

from __future__ import annotations

import time
from pathlib import Path

from botocore.exceptions import ClientError

from facerec import bulk
from facerec.bulk import add_photos
from facerec.service import FaceService, open_service
from facerec.settings import load
from tests.conftest import small_photo


def test_a_photo_that_fails_for_any_reason_does_not_hide_the_others(tmp_path: Path, monkeypatch) -> None:
    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})
    real_add = FaceService.add

    def add(self, name: str, data: bytes, timeout: float = 60.0, source: str = "the image"):
        if source == "outage.jpg":
            raise ClientError({"Error": {"Code": "InternalError", "Message": "S3 is down"}}, "PutObject")
        if source == "bug.jpg":
            raise RuntimeError("a bug")
        return real_add(self, name, data, timeout, source)

    monkeypatch.setattr(FaceService, "add", add)
    kit = small_photo("people/kit_harington/kit1.jpg")
    photos = [
        ("kit1.jpg", kit),
        ("outage.jpg", kit),
        ("bug.jpg", kit),
        ("kit2.jpg", small_photo("people/kit_harington/kit2.jpg")),
    ]
    outcomes = {o.source: o for o in add_photos(settings, "Kit", photos, workers=1)}
    assert sorted(s for s, o in outcomes.items() if o.result and o.result.ok) == ["kit1.jpg", "kit2.jpg"]
    # The code says which failure it was; AWS's own text is for us, not for the user.
    assert "InternalError" in outcomes["outage.jpg"].error and "S3 is down" not in outcomes["outage.jpg"].error
    assert "a bug" in outcomes["bug.jpg"].error


def test_photos_added_by_worker_processes_stay_added_when_one_fails(tmp_path: Path) -> None:
    # Two workers, as on a 2-core machine: a photo that fails inside a worker process is reported,
    # and neither it nor its worker takes the other photos' outcomes with it.
    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})
    photos = [
        ("kit1.jpg", small_photo("people/kit_harington/kit1.jpg")),
        ("notes.jpg", b"not a photo at all"),
        ("kit2.jpg", small_photo("people/kit_harington/kit2.jpg")),
    ]
    outcomes = {o.source: o for o in add_photos(settings, "Kit", photos, workers=2)}
    assert sorted(s for s, o in outcomes.items() if o.result and o.result.ok) == ["kit1.jpg", "kit2.jpg"]
    assert outcomes["notes.jpg"].result is None and outcomes["notes.jpg"].error
    assert [(p.name, p.face_count) for p in open_service(settings).people()] == [("Kit", 2)]


def test_progress_counts_each_photo_once_against_the_total(tmp_path: Path) -> None:
    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})
    photos = [(f"kit{n}.jpg", small_photo(f"people/kit_harington/kit{n}.jpg")) for n in (1, 2)]
    heard = []
    before = time.monotonic()
    returned = add_photos(settings, "Kit", photos, on_progress=heard.append, workers=1)
    took = time.monotonic() - before
    assert heard == returned
    assert [(p.done, p.total, p.source) for p in heard] == [(1, 2, "kit1.jpg"), (2, 2, "kit2.jpg")]
    assert 0 < heard[0].elapsed <= heard[1].elapsed <= took
    # Into the settings' collection, not one the environment names.
    assert [(p.name, p.face_count) for p in open_service(settings).people()] == [("Kit", 2)]


def test_by_default_each_core_adds_photos_in_a_process_of_its_own(tmp_path: Path, monkeypatch) -> None:
    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})

    def refuse(*args, **kwargs):
        raise AssertionError("added in the parent process")

    monkeypatch.setattr(bulk.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(bulk, "open_service", refuse)
    # Workers start afresh (spawned): a forked one would inherit this parent's state, its patched
    # methods here, its open database connections in the app.
    monkeypatch.setattr(FaceService, "add", refuse)
    photos = [
        ("kit1.jpg", small_photo("people/kit_harington/kit1.jpg")),
        ("notes.jpg", b"not a photo at all"),
    ]
    outcomes = {o.source: o for o in add_photos(settings, "Kit", photos)}
    assert outcomes["kit1.jpg"].result.ok
    assert "notes.jpg" in outcomes["notes.jpg"].error  # the worker names the photo it failed on


def test_one_photo_or_one_core_is_added_without_starting_worker_processes(tmp_path: Path, monkeypatch) -> None:
    # A worker process loads the models afresh (seconds, and their memory): worth it only when
    # there is a second core and a second photo to give it.
    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})

    def refuse(*args, **kwargs):
        raise AssertionError("worker processes started")

    monkeypatch.setattr(bulk, "ProcessPoolExecutor", refuse)
    monkeypatch.setattr(bulk.os, "cpu_count", lambda: 2)
    one = add_photos(settings, "Kit", [("kit1.jpg", small_photo("people/kit_harington/kit1.jpg"))])
    monkeypatch.setattr(bulk.os, "cpu_count", lambda: None)  # the core count unknown: one core
    two = add_photos(
        settings, "Rose", [(f"rose{n}.jpg", small_photo(f"people/rose_leslie/rose{n}.jpg")) for n in (1, 2)]
    )
    assert [o.result.ok for o in one + two] == [True, True, True]
