"""Checking a document read from outside (a bundle's incident.json) before anything renders it.

The check is structural: every required key of every part is present and every object or list is one, and each
timeline entry's `data` has the keys its kind always records. Scalar values are taken as they are. What fails is
named by its path (`entries[12].data: missing 'to'`), instead of a KeyError deep inside a template.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any, NotRequired, Union, cast, get_args, get_origin, get_type_hints, is_typeddict

from bot.postmortem.doc_types import Doc, Entry
from bot.postmortem.entry_data import SHAPES


class DocumentError(ValueError):
    """A value is not an incident document: the message names the first part that is wrong."""


def _structured(hint: Any) -> bool:
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        return len(args) == 1 and _structured(args[0])
    return is_typeddict(hint) or get_origin(hint) in (list, dict)


@cache
def _plan(shape: Any) -> tuple[frozenset[str], tuple[tuple[str, Any], ...]]:
    """The required keys of a TypedDict, and the keys whose values are themselves objects or lists to check."""
    hints = get_type_hints(shape, include_extras=True)
    optional = {key for key, hint in hints.items() if get_origin(hint) is NotRequired}
    bare = {key: get_args(hint)[0] if key in optional else hint for key, hint in hints.items()}
    return frozenset(hints) - optional, tuple((key, hint) for key, hint in bare.items() if _structured(hint))


def _fail(where: str, problem: str) -> DocumentError:
    return DocumentError(f"{where or 'the document'}: {problem}")


def _check(value: object, hint: Any, where: str) -> None:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is not None:
            _check(value, next(a for a in get_args(hint) if a is not type(None)), where)
    elif origin is list:
        if not isinstance(value, list):
            raise _fail(where, "not a list")
        item = get_args(hint)[0]
        if _structured(item):
            for i, element in enumerate(value):
                _check(element, item, f"{where}[{i}]")
    elif not isinstance(value, dict):
        raise _fail(where, "not an object")
    elif is_typeddict(hint):
        required, nested = _plan(hint)
        missing = sorted(required - value.keys())
        if missing:
            raise _fail(where, "missing " + ", ".join(repr(k) for k in missing))
        for key, sub in nested:
            if key in value:
                _check(value[key], sub, f"{where}.{key}" if where else key)
        kind = value["kind"] if hint is Entry else None
        if isinstance(kind, str) and kind in SHAPES:
            _check(value["data"], SHAPES[kind], f"{where}.data")


def check_document(value: object) -> Doc:
    """The value as an incident document, once its structure holds; raises DocumentError naming what does not."""
    _check(value, Doc, "")
    return cast(Doc, value)
