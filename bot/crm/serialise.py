"""JSON ↔ CRM dataclasses, the one conversion the HTTP client and the reference server share.

`to_json` turns a dataclass (or a tuple of them) into JSON-ready data: datetimes as ISO 8601
in UTC with an offset, dates as YYYY-MM-DD, tuples as lists. `from_json(cls, data)` builds
the dataclass back, checking every field's type, and raises `SerialiseError` naming the
field that is wrong. Unknown keys are ignored, so a CRM API may send more than Rapport reads.
"""

from __future__ import annotations

import math
import types
from dataclasses import MISSING, fields, is_dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from bot.crm.validation import as_utc

T = TypeVar("T")


class SerialiseError(ValueError):
    """JSON that does not describe the expected CRM record."""


def to_json(value: Any) -> Any:
    """JSON-ready data for a CRM dataclass, or a tuple, list or dict holding them."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: to_json(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def from_json(cls: type[T], data: Any) -> T:
    """The dataclass `cls` described by `data`, or `SerialiseError`."""
    return _load(cls, data, cls.__name__)


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _load_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise SerialiseError(f"{where}: expected an object")
    hints = _hints(cls)
    values = {}
    for item in fields(cls):
        if item.name in data:
            values[item.name] = _load(hints[item.name], data[item.name], f"{where}.{item.name}")
        elif item.default is MISSING and item.default_factory is MISSING:
            raise SerialiseError(f"{where}.{item.name}: missing")
    return cls(**values)


def _load(kind: Any, value: Any, where: str) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [option for option in get_args(kind) if option is not type(None)]
        if value is None:
            if len(options) < len(get_args(kind)):
                return None
            raise SerialiseError(f"{where}: must not be null")
        return _load(options[0], value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise SerialiseError(f"{where}: expected a list")
        item_kind = get_args(kind)[0]
        return tuple(_load(item_kind, item, f"{where}[{i}]") for i, item in enumerate(value))
    if is_dataclass(kind):
        return _load_dataclass(kind, value, where)
    if kind is datetime:
        return _datetime(value, where)
    if kind is date:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise SerialiseError(f"{where}: expected a date YYYY-MM-DD") from None
    if kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise SerialiseError(f"{where}: expected a number")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SerialiseError(f"{where}: expected an integer")
        return value
    if kind in (bool, str):
        if not isinstance(value, kind):
            raise SerialiseError(f"{where}: expected {'true/false' if kind is bool else 'text'}")
        return value
    raise SerialiseError(f"{where}: cannot read a {kind!r}")  # pragma: no cover


def _datetime(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise SerialiseError(f"{where}: expected an ISO 8601 date-time")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise SerialiseError(f"{where}: expected an ISO 8601 date-time") from None
