"""A process killed in the middle of `add` leaves the store consistent, and `reindex` finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from facerec.records import FaceItem, ImageItem
from facerec.service import open_service
from facerec.settings import load
from tests.conftest import FACES_DIR, ROOT

# Dies at the first call, in any delivery, that does the named step of one add: with deliveries late and
# twice at once, counting calls would land on another delivery's step.
DIE_DURING_ADD = """
import os, sys
sys.path.insert(0, sys.argv[1])
from facerec.service import open_service
service = open_service()
step, when = sys.argv[2], sys.argv[3]

def step_of(method, params):
    if method != "put_item":
        return {"put_object": "stored", "index_faces": "index"}[method]
    item = params["Item"]
    if item["ItemType"]["S"] == "face":
        return "face item"
    if item["Status"]["S"] != "pending":
        return "outcome"
    return "faces recorded" if item["FaceIds"]["L"] else "claim"

def dying(method, original):
    def call(**params):
        here = step_of(method, params) == step
        if here and when == "before":
            os._exit(9)  # no cleanup, no finally: as a kill would
        result = original(**params)
        if here and when == "after":
            os._exit(9)
        return result
    return call

clients = {"put_object": service.s3, "put_item": service.dynamodb, "index_faces": service.rekognition}
for method, target in clients.items():
    setattr(target, method, dying(method, getattr(target, method)))
service.add("Joe Biden", open(sys.argv[4], "rb").read())
"""

# The steps of one add: the photo stored; in the handler, the image claimed (a pending image item), its
# face indexed, the FaceIds recorded on the claim, the face item written, the image's outcome written.
KILL_POINTS = [
    ("stored", "after"),  # the handler not started
    ("claim", "before"),
    ("claim", "after"),
    ("index", "before"),
    ("index", "after"),
    ("faces recorded", "after"),
    ("face item", "before"),
    ("face item", "after"),
    ("outcome", "before"),
]


def consistency(service) -> tuple[set, set]:
    """(faces no item accounts for, face items whose face is missing)."""
    faces = service._collection_faces()
    items = service._items()
    face_items = {i.face_id for i in items if isinstance(i, FaceItem)}
    pending = {i.external_image_id for i in items if isinstance(i, ImageItem) and i.status == "pending"}
    unaccounted = {f for f, token in faces.items() if f not in face_items and token not in pending}
    return unaccounted, face_items - set(faces)


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FACEREC_BACKEND": "local",
        "FACEREC_DATA_DIR": str(tmp_path / "data"),
        "FACEREC_DELIVERY": "adversarial",
        "PYTHONPATH": str(ROOT),
    }


def assert_finished_by_reindex(service, name: str, faces: int) -> None:
    assert service.s3.courier.idle()  # what the dead process queued is delivered by this one
    assert consistency(service) == (set(), set())
    service.reindex(grace=0.0)
    assert consistency(service) == (set(), set())
    assert [(p.name, p.face_count) for p in service.people()] == [(name, faces)]
    assert len(service._collection_faces()) == faces
    assert service.reindex(grace=0.0).indexed == []


def assert_deleted_without_trace(service, name: str, data_dir: Path, photo: bytes) -> None:
    (person,) = [p for p in service.people() if p.name == name]
    descriptors = [
        service.rekognition.store.face(service.settings.rekognition_collection_name, f)[1] for f in person.face_ids
    ]
    service.delete(name)
    traces = [name.encode(), urllib.parse.quote(name).encode(), photo[1000:1100]] + [d.tobytes() for d in descriptors]
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(trace in content for trace in traces), path


@pytest.mark.parametrize(("step", "when"), KILL_POINTS)
def test_killed_add_is_finished_by_reindex(tmp_path: Path, small_faces: Path, step: str, when: str) -> None:
    env = environment(tmp_path)
    image = small_faces / "people/joe_biden/biden1.jpg"
    died = subprocess.run([sys.executable, "-c", DIE_DURING_ADD, str(ROOT), step, when, str(image)], env=env)
    assert died.returncode == 9, f"the add never reached the step {step!r}"

    service = open_service(load(env_file=None, environ=env))
    assert_finished_by_reindex(service, "Joe Biden", 1)
    (face,) = service.check((small_faces / "people/joe_biden/biden2.jpg").read_bytes())
    assert face.name == "Joe Biden"
    assert_deleted_without_trace(service, "Joe Biden", tmp_path / "data", image.read_bytes())


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux: read from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_killed_bulk_add_takes_its_workers_with_it(tmp_path: Path) -> None:
    env = environment(tmp_path)
    photos = sorted((FACES_DIR / "people/barack_obama").iterdir())
    cli = subprocess.Popen(
        [sys.executable, "-m", "facerec", "add", "Barack Obama", *map(str, photos)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(children(cli.pid)) < 2 and time.monotonic() < deadline:  # the workers, started
        time.sleep(0.1)
    workers = children(cli.pid)
    assert len(workers) >= 2, "the bulk add started no workers"
    time.sleep(3)  # mid-add: models loaded, photos being indexed
    cli.send_signal(signal.SIGKILL)
    cli.wait()

    deadline = time.monotonic() + 10
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)], "workers outlived the killed add"

    service = open_service(load(env_file=None, environ=env))
    assert service.s3.courier.idle()
    service.reindex(grace=0.0)
    assert consistency(service) == (set(), set())
    enrolled = sum(p.face_count for p in service.people())
    assert len(service._index_objects()) == len(service._collection_faces()) == enrolled  # each upload once
