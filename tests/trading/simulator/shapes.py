"""Compare what the simulator sends with Kalshi's recorded examples: the same keys and
the same JSON value types, recursively (lists: every element like some example element)."""

import json
from pathlib import Path
from typing import Any

from tests.services import missing
from tests.trading.simulator.conftest import EXAMPLES


def examples(name: str) -> list[Any]:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():
        missing(f"Kalshi examples ({EXAMPLES})")
    return json.loads(Path(path).read_text())


def mismatch(actual: Any, example: Any, path: str = "$") -> str | None:
    """None when ``actual`` has the example's shape, else where and how it differs."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return f"{path}: {type(actual).__name__} instead of an object"
        if set(actual) != set(example):
            return (
                f"{path}: extra keys {sorted(set(actual) - set(example))}, missing {sorted(set(example) - set(actual))}"
            )
        for key, value in example.items():
            problem = mismatch(actual[key], value, f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(example, list):
        if not isinstance(actual, list):
            return f"{path}: {type(actual).__name__} instead of an array"
        for i, item in enumerate(actual):
            problems = [mismatch(item, candidate, f"{path}[{i}]") for candidate in example]
            if example and all(problems):
                return problems[0]
        return None
    if type(actual) is not type(example):
        return f"{path}: {type(actual).__name__} {actual!r} where the example has {type(example).__name__}"
    return None


def assert_like_one_of(actual: Any, candidates: list[Any], what: str) -> None:
    problems = [mismatch(actual, example) for example in candidates]
    assert not all(problems), f"{what} matches no example:\n" + "\n".join(map(str, problems)) + f"\n{actual}"
