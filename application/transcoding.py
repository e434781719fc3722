"""Event serialisation: orjson with registered transcodings for dates and times.

The stored format is the library's own (`{"_type_": name, "_data_": …}` for
non-JSON types), so the library's tools can still read our events; only the
codec is faster (ADR 0007). Money and ratios are integers and need none.

Hot-path notes (ADR 0010): a batch of events shares one recorded instant and a
feed shares a handful of business dates, so their tagged forms are built once
and reused; tagged values are substituted before `orjson.dumps`, so orjson's
Python `default` callback runs only for rare types (sets, tuples).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    Mapper,
    StoredEvent,
    Transcoder,
    TranscodingNotRegisteredError,
)
from eventsourcing.utils import get_topic

from domain.dating import parse_date

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_DATE_CACHE_LIMIT = 50_000  # business dates: a bank's lifetime is a few thousand

Tagged = dict[str, str]
_dates: dict[date, Tagged] = {}
_last_instant: tuple[datetime | None, Tagged] = (None, {})


def _tagged_date(value: date) -> Tagged:
    found = _dates.get(value)
    if found is None:
        if len(_dates) > _DATE_CACHE_LIMIT:
            _dates.clear()
        found = _dates[value] = {"_type_": "date_iso", "_data_": value.isoformat()}
    return found


def _tagged_instant(value: datetime) -> Tagged:
    global _last_instant
    last = _last_instant  # one read: another thread may replace it meanwhile
    if last[0] is value:
        return last[1]
    tagged = {"_type_": "datetime_iso", "_data_": value.isoformat()}
    _last_instant = (value, tagged)
    return tagged


def _tag(value: Any) -> Any:
    kind = type(value)
    if kind is date:
        return _tagged_date(value)
    if kind is datetime:
        return _tagged_instant(value)
    return value


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
    "date_iso": parse_date,
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
        if type(obj) is dict:
            obj = {key: _tag(value) for key, value in obj.items()}
        return orjson.dumps(obj, default=_encode, option=_OPTIONS)

    def decode(self, data: bytes) -> Any:
        return _decode_top(orjson.loads(data))


def decode_state(data: bytes) -> Any:
    """Decode one stored event's state (used by projections reading rows directly)."""
    return _decode_top(orjson.loads(data))


class EventMapper(Mapper[UUID]):
    """The library's mapper with each event class's topic and version looked up once.

    Same stored form as `Mapper.to_stored_event` (tested); reading is unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes: dict[type, tuple[str, int]] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        known = self._classes.get(cls)
        if known is None:
            known = self._classes[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
        topic, class_version = known
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if class_version > 1:
            state["class_version"] = class_version
        stored = self.transcoder.encode(state)
        if self.compressor:
            stored = self.compressor.compress(stored)
        if self.cipher:
            stored = self.cipher.encrypt(stored)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=topic, state=stored)
