"""The engine's cache of analysed images: one analysis per image, bounded, forgotten on deletion."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from facerec import faces as facelib
from facerec.local.analysis import Analysis, AnalysisCache


class Analyser:
    """Makes blank analyses of a given size and counts them; `gate` holds each one until set."""

    def __init__(self, side: int = 10, gate: threading.Event | None = None) -> None:
        self.side = side
        self.gate = gate
        self.calls = 0

    def __call__(self, data: bytes) -> Analysis:
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(5)
        return Analysis(facelib.Picture(np.zeros((self.side, self.side, 3), np.uint8)), [])


def test_the_same_bytes_are_analysed_once() -> None:
    cache, analyse = AnalysisCache(), Analyser()
    first = cache.analysis(b"photo", analyse)
    assert cache.analysis(b"photo", analyse) is first
    cache.analysis(b"other photo", analyse)
    assert analyse.calls == 2


def test_requests_for_one_image_at_once_share_its_analysis() -> None:
    gate = threading.Event()
    cache, analyse = AnalysisCache(), Analyser(gate=gate)
    results: list[Analysis] = []
    workers = [threading.Thread(target=lambda: results.append(cache.analysis(b"photo", analyse))) for _ in range(4)]
    for worker in workers:
        worker.start()
    gate.set()
    for worker in workers:
        worker.join(5)
    assert analyse.calls == 1 and len(results) == 4 and all(r is results[0] for r in results)


def test_a_failed_analysis_is_not_remembered() -> None:
    cache = AnalysisCache()

    def broken(data: bytes) -> Analysis:
        raise ValueError("damaged")

    with pytest.raises(ValueError):
        cache.analysis(b"photo", broken)
    analyse = Analyser()
    cache.analysis(b"photo", analyse)
    assert analyse.calls == 1


def test_the_cache_is_bounded_by_images_and_by_pixels() -> None:
    by_count, analyse = AnalysisCache(max_images=2), Analyser()
    for data in (b"a", b"b", b"c"):
        by_count.analysis(data, analyse)
    by_count.analysis(b"c", analyse)
    by_count.analysis(b"a", analyse)  # the oldest was dropped
    assert (analyse.calls, len(by_count)) == (4, 2)

    by_pixels, analyse = AnalysisCache(max_pixels=250), Analyser(side=10)
    for data in (b"a", b"b", b"c"):
        by_pixels.analysis(data, analyse)
    assert len(by_pixels) == 2
    huge = Analyser(side=20)
    by_pixels.analysis(b"huge", huge)
    by_pixels.analysis(b"huge", huge)  # larger than the whole budget: never kept
    assert huge.calls == 2


def test_forgetting_drops_what_was_analysed_and_what_is_being_analysed() -> None:
    cache, analyse = AnalysisCache(), Analyser()
    cache.analysis(b"done", analyse)
    gate = threading.Event()
    slow = Analyser(gate=gate)
    worker = threading.Thread(target=cache.analysis, args=(b"running", slow))
    worker.start()
    while slow.calls == 0:
        threading.Event().wait(0.01)
    cache.forget_all()
    gate.set()
    worker.join(5)
    assert len(cache) == 0
    cache.analysis(b"done", analyse)
    assert analyse.calls == 2
