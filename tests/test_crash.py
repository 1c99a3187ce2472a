"""A process killed in the middle of `add` leaves the store consistent, and `reindex` finishes the job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facerec.service import open_service
from facerec.settings import load
from tests.conftest import FACES_DIR, ROOT

DIE_DURING_ADD = """
import os, sys
sys.path.insert(0, sys.argv[1])
from facerec.service import open_service
service = open_service()
method, when, nth = sys.argv[2], sys.argv[3], int(sys.argv[4])
target = {"index_faces": service.rekognition, "put_item": service.dynamodb}[method]
original = getattr(target, method)
calls = 0
def dying(**params):
    global calls
    calls += 1
    if calls == nth and when == "before":
        os._exit(9)  # no cleanup, no finally: as a kill would
    result = original(**params)
    if calls == nth and when == "after":
        os._exit(9)
    return result
setattr(target, method, dying)
service.add("Joe Biden", open(sys.argv[5], "rb").read())
"""

# put_item calls during one add: 1 the pending image item, 2 the face item, 3 the final image item.
KILL_POINTS = [
    ("put_item", "before", 1),
    ("index_faces", "before", 1),
    ("index_faces", "after", 1),
    ("put_item", "before", 2),
    ("put_item", "after", 2),
    ("put_item", "before", 3),
]


def consistency(service) -> tuple[set, set]:
    """(faces no item accounts for, face items whose face is missing)."""
    faces = service._collection_faces()
    items = service._items()
    face_items = {i["RekognitionId"] for i in items if i["ItemType"] == "face"}
    pending = {i["ExternalImageId"] for i in items if i["ItemType"] == "image" and i["Status"] == "pending"}
    unaccounted = {f for f, token in faces.items() if f not in face_items and token not in pending}
    return unaccounted, face_items - set(faces)


@pytest.mark.parametrize(("method", "when", "nth"), KILL_POINTS)
def test_killed_add_is_finished_by_reindex(tmp_path: Path, method: str, when: str, nth: int) -> None:
    env = {**os.environ, "FACEREC_BACKEND": "local", "FACEREC_DATA_DIR": str(tmp_path / "data")}
    image = FACES_DIR / "people/joe_biden/biden1.jpg"
    died = subprocess.run(
        [sys.executable, "-c", DIE_DURING_ADD, str(ROOT), method, when, str(nth), str(image)], env=env
    )
    assert died.returncode == 9

    service = open_service(load(env_file=None, environ=env))
    assert consistency(service) == (set(), set())

    assert service.reindex().in_flight  # just now: it might still be running
    result = service.reindex(grace=0.0)
    assert consistency(service) == (set(), set())
    assert len(result.indexed) == 1
    assert [(p.name, p.face_count) for p in service.people()] == [("Joe Biden", 1)]
    assert len(service._collection_faces()) == 1
    (face,) = service.check((FACES_DIR / "people/joe_biden/biden2.jpg").read_bytes())
    assert face.name == "Joe Biden"
    assert service.reindex(grace=0.0).indexed == []
