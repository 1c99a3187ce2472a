"""Every constraint of a botocore input shape, checked as AWS's front end checks it.

botocore's ParamValidator (what boto3 runs before sending) checks types, required
members and minimums; AWS also checks enums, maximums, lengths and patterns, and
answers a ValidationException whose message lists every violation:

    1 validation error detected: Value '150.0' at 'faceMatchThreshold' failed to satisfy
    constraint: Member must have value less than or equal to 100

Paths are the members' names with a lower-case first letter, joined by dots
('image.s3Object.bucket'); a list member's violations are reported at the list
('faceIds') with the inner constraints in brackets, as AWS does. The model is
the only source: nothing here names an operation or a member.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

# AWS stops listing after this many, as its front end does.
MAX_REPORTED = 10


def violations(params: dict, shape, required: bool = False) -> list[str]:
    """Every violation of `shape`'s constraints by `params`, each as AWS words it.

    With required=True a missing required member is one too ("Member must not be null"), as AWS's
    front end reports it; boto3's validator (which a local client runs first) reports those itself.
    """
    found: list[str] = []
    _check_structure(params, shape, "", found, required)
    return found


def message(found: list[str]) -> str:
    """AWS's ValidationException message for a list of violations."""
    count = len(found)
    head = "1 validation error detected: " if count == 1 else f"{count} validation errors detected: "
    return head + "; ".join(found[:MAX_REPORTED])


def _check_structure(value: Any, shape, path: str, found: list[str], required: bool) -> None:
    if not isinstance(value, dict):
        return  # a wrong type is ParamValidator's to report
    for name, member in shape.members.items():
        inner = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
        if name not in value or value[name] is None:
            if required and name in shape.required_members:
                found.append(f"Value null at '{inner}' failed to satisfy constraint: Member must not be null")
            continue
        _check_value(value[name], member, inner, found, required)


def _check_value(value: Any, shape, path: str, found: list[str], required: bool) -> None:
    problems = _problems(value, shape)
    if problems:
        found.append(_violation(value, path, problems))
    kind = shape.type_name
    if kind == "structure":
        _check_structure(value, shape, path, found, required)
    elif kind == "list" and isinstance(value, list):
        inner = [p for item in value for p in _problems(item, shape.member)]
        if inner:
            found.append(_violation(value, path, [f"Member must satisfy constraint: [{', '.join(_unique(inner))}]"]))
        for index, item in enumerate(value):
            if shape.member.type_name in ("structure", "list", "map"):
                _check_value(item, shape.member, f"{path}.{index + 1}.member", found, required)
    elif kind == "map" and isinstance(value, dict):
        keys = [p for key in value for p in _problems(key, shape.key)]
        values = [p for item in value.values() for p in _problems(item, shape.value)]
        if keys:
            found.append(_violation(value, path, [f"Map keys must satisfy constraint: [{', '.join(_unique(keys))}]"]))
        if values:
            found.append(
                _violation(value, path, [f"Map value must satisfy constraint: [{', '.join(_unique(values))}]"])
            )


def _problems(value: Any, shape) -> list[str]:
    """The constraints of `shape` (not of its members) that `value` breaks."""
    meta = shape.metadata
    kind = shape.type_name
    problems = []
    if (
        kind in ("integer", "long", "float", "double")
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    ):
        if isinstance(value, float) and not math.isfinite(value):
            problems.append("Member must be a finite number")
        if "min" in meta and value < meta["min"]:
            problems.append(f"Member must have value greater than or equal to {_number(meta['min'])}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"Member must have value less than or equal to {_number(meta['max'])}")
        return problems
    size = _size(value, kind)
    if size is not None:
        if "min" in meta and size < meta["min"]:
            problems.append(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            problems.append(f"Member must have length less than or equal to {meta['max']}")
    if kind == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            problems.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            problems.append(f"Member must satisfy regular expression pattern: {pattern}")
    return problems


def _size(value: Any, kind: str) -> int | None:
    if kind == "string" and isinstance(value, str):
        return len(value)
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return len(value)
    if kind == "list" and isinstance(value, list):
        return len(value)
    if kind == "map" and isinstance(value, dict):
        return len(value)
    return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    # AWS anchors its patterns whole (Java's matches()); an unusable pattern checks nothing.
    return compiled is None or compiled.fullmatch(value) is not None


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern | None:
    # Java's Unicode classes (\p{L}, \p{Z}, \p{N}) have no `re` spelling; these sets are close enough
    # for AWS's tag patterns, the only place the model uses them.
    translated = (
        pattern.replace(r"\p{L}", "a-zA-Z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u4e00-\u9fff")
        .replace(r"\p{Z}", " \u00a0\u2000-\u200a\u2028\u2029\u3000")
        .replace(r"\p{N}", "0-9")
    )
    try:
        return re.compile(translated)
    except re.error:
        return None


def _violation(value: Any, path: str, problems: list[str]) -> str:
    constraint = problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]"
    return f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _shown(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if len(text) <= 256 else text[:256] + "..."


def _number(bound: Any) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]
