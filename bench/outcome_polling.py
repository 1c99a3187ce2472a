"""Outcome polling: how late an add learns its indexer's outcome, and how many reads of the table it costs.

    python bench/outcome_polling.py [--adds 15] [--faces ../shared/faces]

An add uploads the photo, then reads its image item until the indexer (lambda.py) has written a final
status. The time that takes is measured on the local back end by polling every 5 ms. Each polling
schedule is then played against those times: the add learns the outcome at the first read after it
was written. The schedules are ours (`facerec.service.OUTCOME_POLL_SECONDS`), the doubling from 0.05 s to 1 s
it replaced, and other fixed delays, as botocore's waiters read (S3's ObjectExists waits 5 s).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def outcome_times(faces: Path, adds: int) -> list[float]:
    """Seconds from the upload to the outcome's read, for `adds` adds of the shared people's photos."""
    from facerec import service as service_module
    from facerec.service import open_service
    from facerec.settings import load

    photos = sorted(faces.glob("people/*/*.jpg"))[:adds]
    service_module.OUTCOME_POLL_SECONDS = 0.005  # as near the outcome as reads go
    times = []
    with tempfile.TemporaryDirectory() as data:
        with open_service(load(env_file=None, environ={"FACEREC_DATA_DIR": data})) as service:
            uploaded: list[float] = []  # the clock starts when the upload has returned, as the add's reads do
            put_object = service.s3.put_object

            def timed_put(**params):
                response = put_object(**params)
                uploaded.append(time.perf_counter())
                return response

            service.s3.put_object = timed_put
            for number, photo in enumerate(photos):
                service.add(f"Person {number}", photo.read_bytes(), source=photo.name)
                times.append(time.perf_counter() - uploaded[-1])
    return times


def learned(outcome: float, delays: Iterable[float]) -> tuple[float, int]:
    """When a schedule reading at once, then after each delay, sees an outcome written at `outcome`
    seconds: the seconds late, and the reads made."""
    waited, reads = 0.0, 1
    for delay in delays:
        if waited >= outcome:
            break
        waited += delay
        reads += 1
    return waited - outcome, reads


def fixed(delay: float) -> Iterator[float]:
    return itertools.repeat(delay)


def doubling() -> Iterator[float]:
    delay = 0.05
    while True:
        yield delay
        delay = min(delay * 2, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=15)
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    args = parser.parse_args()
    from facerec.service import OUTCOME_POLL_SECONDS

    times = outcome_times(args.faces, args.adds)
    print(
        f"outcome after {statistics.median(times):.2f} s (median of {len(times)} adds; "
        f"{min(times):.2f}-{max(times):.2f} s)"
    )
    # On AWS the outcome comes later: a warm Lambda in about a second, a cold one in several.
    cases = {
        "measured here": times,
        "1 s later (AWS, warm)": [t + 1 for t in times],
        "5 s later (AWS, cold)": [t + 5 for t in times],
    }
    schedules = {
        f"ours (every {OUTCOME_POLL_SECONDS} s)": lambda: fixed(OUTCOME_POLL_SECONDS),
        "doubling, 0.05 s to 1 s": doubling,
        "every 0.25 s": lambda: fixed(0.25),
        "every 1 s": lambda: fixed(1.0),
        "every 5 s": lambda: fixed(5.0),
    }
    print(f"{'schedule':<32}" + "".join(f"{case:>30}" for case in cases))
    for label, schedule in schedules.items():
        cells = []
        for outcomes in cases.values():
            results = [learned(t, schedule()) for t in outcomes]
            late = statistics.mean(r[0] for r in results)
            reads = statistics.mean(r[1] for r in results)
            cells.append(f"{late:6.2f} s late, {reads:5.1f} reads")
        print(f"{label:<32}" + "".join(f"{cell:>30}" for cell in cells))


if __name__ == "__main__":
    main()
