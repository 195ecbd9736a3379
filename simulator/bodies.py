"""Fields of JSON request bodies, read as proto3 JSON parsing reads them.

The API parses request bodies into protocol buffer messages, so a body means what
its message would: a field sent as `null` is the field's default, exactly as if it
were left out, and an int32 field takes a JSON number or a string holding one
(`"pageSize": "10"` is `10`; `10.0` too, but not `10.5`, `true` or `"ten"`). A value
the parser cannot take answers 400 with a google.rpc.BadRequest naming the field
in the proto's snake_case, as Google's front end does.
"""

from __future__ import annotations

import re

from simulator.errors import ApiError

_INT32 = (-(2**31), 2**31 - 1)
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_FLOAT_TEXT = re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")


def _snake(path: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), path)


def bad_value(path: str, kind: str, value: object) -> ApiError:
    """400 for a value the proto3 JSON parser refuses, worded as Google's front end words it."""
    field = _snake(path)
    shown = value if isinstance(value, str) else repr(value)
    message = f"Invalid value at '{field}' ({kind}), \"{str(shown)[:80]}\""
    return ApiError(400, message, field_violations=((field, message),))


def message(body: dict, name: str, path: str | None = None) -> dict:
    """A message field: its object, or `{}` (every field at its default) when unset."""
    found = body.get(name)
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise bad_value(path or name, "TYPE_MESSAGE", found)
    return found


def string(body: dict, name: str, path: str | None = None) -> str:
    """A string field: its text, or `""` when unset."""
    found = body.get(name)
    if found is None:
        return ""
    if not isinstance(found, str):
        raise bad_value(path or name, "TYPE_STRING", found)
    return found


def int32(body: dict, name: str, path: str | None = None) -> int:
    """An int32 field: its value, or 0 when unset; numbers written as strings are read.

    Raises:
        ApiError: 400 for a boolean, a fraction, text that is not a number, or a value
            outside the int32 range.
    """
    found = body.get(name)
    if found is None:
        return 0
    number: int | None = None
    if isinstance(found, bool):
        pass  # JSON true and false are not numbers
    elif isinstance(found, int):
        number = found
    elif isinstance(found, float) and found.is_integer():
        number = int(found)
    elif isinstance(found, str):
        text = found
        if _INTEGER_TEXT.fullmatch(text):
            number = int(text)
        elif _FLOAT_TEXT.fullmatch(text) and float(text).is_integer():
            number = int(float(text))
    if number is None or not _INT32[0] <= number <= _INT32[1]:
        raise bad_value(path or name, "TYPE_INT32", found)
    return number
