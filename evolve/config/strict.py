"""Strict conversion of parsed TOML/YAML tables into typed, frozen dataclasses.

Why hand-written rather than a validation library: the rules are few (unknown
keys are errors, types are checked, nested tables map to nested dataclasses)
and every error must name the file, the dotted key and the fix, which is the
part libraries make awkward.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from evolve.errors import ConfigError

T = TypeVar("T")

__all__ = ["from_mapping"]


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    if dataclasses.is_dataclass(tp):
        return "table"
    if tp is type(None):
        return "nothing"
    return getattr(tp, "__name__", str(tp))


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check ``value`` against ``tp`` and convert it (tables -> dataclasses)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        if len(options) == 1:
            # Optional[X]: X's own error (e.g. deep inside a nested table) is
            # more useful than "must be X | nothing".
            return _convert(value, options[0], key, source)
        errors = []
        for option in get_args(tp):
            try:
                return _convert(value, option, key, source)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"{source}: key '{key}' must be {_type_name(tp)}, got {_describe(value)}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{source}: key '{key}' must be empty")
    if origin is Literal:
        if value in get_args(tp) and type(value) in {type(a) for a in get_args(tp)}:
            return value
        raise ConfigError(
            f"{source}: key '{key}' must be one of {_type_name(tp)}, got {_describe(value)}"
        )
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(
                f"{source}: key '{key}' must be a {_type_name(tp)}, got {_describe(value)}"
            )
        (item_tp,) = get_args(tp)[:1] or (Any,)
        items = [_convert(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: key '{key}' must be a table, got {_describe(value)}")
        _, val_tp = get_args(tp) or (str, Any)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{source}: key '{key}' has a non-string key {k!r}")
            out[k] = _convert(v, val_tp, f"{key}.{k}", source)
        return out
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: key '{key}' must be a table, got {_describe(value)}")
        return from_mapping(tp, value, source, prefix=f"{key}.")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is bool or tp is str:
        if isinstance(value, tp):
            return value
    else:
        raise TypeError(f"unsupported config type {tp!r} for key '{key}'")
    raise ConfigError(f"{source}: key '{key}' must be {_type_name(tp)}, got {_describe(value)}")


def from_mapping(cls: type[T], data: Mapping[str, Any], source: str | Path, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are errors.

    A dataclass's ``__post_init__`` may raise ``ValueError`` for a bad value; it
    is re-raised as ``ConfigError`` with the file name, so every config error
    reads the same.
    """
    source = str(source)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for name in data:
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            known = ", ".join(sorted(fields))
            raise ConfigError(
                f"{source}: unknown key '{prefix}{name}'{hint}; "
                f"known keys here: {known}. Remove or rename it."
            )
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{prefix}{name}", source)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing required key '{prefix}{name}'")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        where = prefix.rstrip(".") or "top level"
        raise ConfigError(f"{source}: [{where}] {exc}") from exc
