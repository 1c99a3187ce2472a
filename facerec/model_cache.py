"""The converted models: owner-only files in a cache folder (the settings name it: ModelSettings.folder),
named for the converter's version and the model file they were made from, and onnxruntime sessions on them.

Set-up converts them (`python -m facerec prepare`); the engine converts any it finds missing or damaged.
A converted model is an optimisation: when one cannot load, the engine runs dlib's own (converted_or_none).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facerec import paths

DIGEST_CHARS = 20  # of the model file's SHA-256, in a converted model's file name


def cached_name(stem: str, version: int, digest: str, suffix: str = ".onnx") -> str:
    """A converted model's file name: what it is, the converter's version and the model file's SHA-256 (hex)."""
    return f"{stem}_v{version}_{digest[:DIGEST_CHARS]}{suffix}"


def converted_file(model_path: Path, convert: Callable[[], bytes]) -> Path:
    """The converted model cached at model_path, converted (and cached owner-only) when it is not there."""
    paths.private_dir(model_path.parent)
    if not model_path.is_file():
        paths.write_private(model_path, convert())
    return model_path


def converted_session(model_path: Path, convert: Callable[[], bytes]) -> tuple[Any, Path]:
    """A session on the converted model cached at model_path, converting (and caching owner-only) when needed.

    A damaged cache file (a crash mid-write before writes were atomic, a full disk) is converted again.
    """
    converted_file(model_path, convert)
    try:
        return open_session(model_path), model_path
    except Exception:  # a damaged cache file: convert again
        paths.write_private(model_path, convert())
    return open_session(model_path), model_path


def open_session(model: Path | bytes):
    """An onnxruntime session on both cores, of a model file or a serialised model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers wait on a busy core: with the camera, the GUI or another process
    # on one of two cores, one face took 23 ms spinning and 12 ms not (4.1 vs 3.8 ms idle).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def converted_or_none(
    load: Callable[[str | os.PathLike, str | os.PathLike], Any],
    dat_path: str | os.PathLike,
    cache_dir: str | os.PathLike,
    what: str,
) -> Any:
    """A converted dlib model loaded from its .dat, or None when it cannot load.

    Any failure to load warns (naming the file, through the error) and returns None: the converted
    models are an optimisation and must never stop the engine.
    """
    try:
        return load(dat_path, cache_dir)
    except Exception as exc:  # noqa: BLE001 - any failure means: use dlib's own
        warnings.warn(f"fast face {what} unavailable, using dlib's: {exc}", RuntimeWarning, stacklevel=3)
        return None
