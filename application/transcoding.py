"""Event serialisation: orjson with registered transcodings for dates and times.

The stored format is the library's own (`{"_type_": name, "_data_": …}` for
non-JSON types), so the library's tools can still read our events; only the
codec is faster (ADR 0007). Money and ratios are integers and need none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder, TranscodingNotRegisteredError

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _encode(obj: Any) -> Any:
    # Order matters: datetime is a subclass of date.
    if isinstance(obj, datetime):
        return {"_type_": "datetime_iso", "_data_": obj.isoformat()}
    if isinstance(obj, date):
        return {"_type_": "date_iso", "_data_": obj.isoformat()}
    if isinstance(obj, UUID):
        return {"_type_": "uuid_hex", "_data_": obj.hex}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TranscodingNotRegisteredError(f"Object of type {type(obj)} is not serializable")


_DECODERS: dict[str, Callable[[str], Any]] = {
    "date_iso": date.fromisoformat,
    "datetime_iso": datetime.fromisoformat,
    "uuid_hex": UUID,
}


def _decode_top(state: Any) -> Any:
    """Fast path for event states: a flat dict whose values may be tagged scalars."""
    if type(state) is not dict:
        return _decode(state)
    for key, value in state.items():
        if type(value) is dict:
            tag = value.get("_type_")
            if tag is not None and len(value) == 2:
                state[key] = _DECODERS[tag](value["_data_"])
            else:
                state[key] = _decode(value)
        elif type(value) is list:
            state[key] = _decode(value)
    return state


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        tag = value.get("_type_")
        if tag is not None and "_data_" in value and len(value) == 2:
            return _DECODERS[tag](value["_data_"])
        return {k: _decode(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=_encode, option=_OPTIONS)

    def decode(self, data: bytes) -> Any:
        return _decode_top(orjson.loads(data))


def decode_state(data: bytes) -> Any:
    """Decode one stored event's state (used by projections reading rows directly)."""
    return _decode_top(orjson.loads(data))
