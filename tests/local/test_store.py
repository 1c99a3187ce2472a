"""The face store's search: exact nearest neighbours over the in-memory matrix, however it is chunked."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from facerec.boxes import RatioBox
from facerec.local.store import SCAN_CHUNK, FaceStore, NewFace, StoredFace, squared_distances


def stored(index: int) -> StoredFace:
    return StoredFace(str(uuid.uuid4()), "image", f"ext{index}", RatioBox(0.1, 0.1, 0.2, 0.2), 99.0)


def test_squared_distances_match_brute_force_across_chunks() -> None:
    rng = np.random.default_rng(7)
    n = SCAN_CHUNK * 3 + 17
    vectors = rng.normal(0, 0.09, (n, 128)).astype(np.float32)
    norms = np.einsum("ij,ij->i", vectors, vectors)
    q = rng.normal(0, 0.09, 128).astype(np.float32)
    expected = ((vectors - q) ** 2).sum(axis=1)
    assert np.allclose(squared_distances(vectors, norms, n, q), expected, atol=1e-5)


def test_nearest_finds_planted_faces_in_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    store = FaceStore(tmp_path / "faces.sqlite3")
    store.create_collection("c")
    count = SCAN_CHUNK + 500
    vectors = rng.normal(0, 0.09, (count, 128)).astype(np.float32)  # random faces sit about 1.4 apart
    store.add_faces("c", [NewFace(stored(i), v) for i, v in enumerate(vectors)])
    query = vectors[1234] + rng.normal(0, 0.01, 128).astype(np.float32)
    near = vectors[1234] + 0.3 * (vectors[42] - vectors[1234]) / np.linalg.norm(vectors[42] - vectors[1234])
    store.add_faces("c", [NewFace(stored(-1), near)])
    hits = store.nearest("c", query, max_distance=0.6, limit=5)
    faces = store.faces_by_seq([seq for seq, _ in hits])
    assert [faces[seq].external_image_id for seq, _ in hits] == ["ext1234", "ext-1"]
    assert hits[0][1] < hits[1][1] <= 0.6
    assert store.nearest("c", query, max_distance=0.6, limit=1) == hits[:1]


def test_users_follow_their_faces_and_collection(tmp_path: Path) -> None:
    store = FaceStore(tmp_path / "faces.sqlite3")
    store.create_collection("c")
    faces = [stored(i) for i in range(3)]
    store.add_faces("c", [NewFace(f, np.full(128, i, dtype=np.float32)) for i, f in enumerate(faces)])
    assert store.create_user("c", "ann") and not store.create_user("c", "ann")
    store.associate("c", "ann", [faces[0].face_id, faces[1].face_id])
    owners, vectors = store.user_descriptors("c", "ann")
    assert owners == ["ann", "ann"] and sorted(vectors[:, 0].tolist()) == [0.0, 1.0]
    assert store.face_owners("c", [f.face_id for f in faces]) == {
        faces[0].face_id: "ann",
        faces[1].face_id: "ann",
        faces[2].face_id: None,
    }
    # A face that goes takes its association with it; the user stays.
    store.delete_faces("c", [faces[0].face_id])
    assert store.user("c", "ann").face_count == 1
    assert [f.user_id for _, f in store.faces("c", user_id="ann")] == ["ann"]
    # The collection takes its users, their associations and its tags.
    store.set_tags("c", {"k": "v"}, limit=50)
    store.delete_collection("c")
    store.create_collection("c")
    assert store.users("c") == [] and store.tags("c") == {}
    assert store.user_descriptors("c")[0] == []
