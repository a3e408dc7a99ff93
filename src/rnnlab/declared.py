"""Settings declared once: each setting's type, range and meaning, in one place that checks it.

A part's settings are the parameters of its constructor, declared with pydantic's
``Annotated[type, Field(ge=..., description=...)]`` and checked by :func:`declared`; the
settings of classes rnnlab does not own (Lightning's Trainer, torch's optimizers) and of the
root config are pydantic models (:class:`Settings`, run/schema.py). From the declaration
come the checks, the one-line error (``model.dropout must be a number in [0, 1) (got
1.5)``: the allowed values are described from the declaration, never pydantic's own text)
and the reference of every key (:func:`fields`: docs/settings.md, ``rnnlab-train --help``).

Light on purpose (pydantic only): the declarations of the run's settings load with --help.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

import annotated_types as at
from pydantic import BaseModel, ConfigDict, Field, ValidationError, validate_call
from pydantic.fields import FieldInfo

from rnnlab.errors import ConfigError, did_you_mean

__all__ = ["Annotated", "Field", "Setting", "Settings", "check", "declared", "describe", "fields"]

# strict: a config's 1 is not a bool, "3" is not a number; an int is a number
STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True)


def Setting(meaning: str, allowed: str | None = None, **constraints: Any) -> Any:
    """pydantic's ``Field`` with the setting's meaning, and the allowed values in words where
    the constraints alone would say them badly (``a training time such as 90s``)."""
    return Field(
        description=meaning, json_schema_extra={"allowed": allowed} if allowed else None, **constraints
    )


class Settings(BaseModel):
    """A config node's declared settings; any key not declared is refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)
    # a program's root settings: the config groups its config composes (None: all of conf/)
    groups: ClassVar[tuple[str, ...] | None] = None


def declared(init: Callable) -> Callable:
    """Check a constructor's arguments against the declarations of its parameters; a value
    that does not fit raises ConfigError naming the parameter (the group adds its prefix)."""
    validated = validate_call(config=STRICT)(init)

    @functools.wraps(init)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return validated(*args, **kwargs)
        except ValidationError as error:
            owner = type(args[0]).__name__ if args else init.__qualname__
            names = list(inspect.signature(init).parameters)
            given = {**dict(zip(names, args, strict=False)), **kwargs}
            unknown = f"a setting that {owner} takes"
            raise _config_error(error, _parameters(init), unknown, given, names) from None

    return checked


def check(model: type[Settings], values: Mapping[str, Any], prefix: str = "") -> Settings:
    """``values`` validated by ``model``; a ConfigError naming ``prefix + key`` otherwise."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as error:
        raise _config_error(error, model.model_fields, _unknown(model), values, prefix=prefix) from None


# -- what a declaration allows, in words -----------------------------------------------------


def describe(annotation: Any, info: FieldInfo | None = None) -> str:
    """The values a declared setting allows, e.g. ``an integer >= 1``, ``one of last, mean``,
    ``a list of 2 numbers in [0, 1)``, ``..., or null``."""
    annotation, metadata = _unwrap(annotation, info)
    for item in metadata:  # a declaration may word what it allows itself
        extra = item.json_schema_extra if isinstance(item, FieldInfo) else None
        if isinstance(extra, dict) and "allowed" in extra:
            return str(extra["allowed"])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        text = " or ".join(describe(option) for option in options)
        return f"{text}, or null" if len(options) < len(args) else text
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return _ranged("an integer", metadata)
    if annotation is float:
        return _ranged("a number", metadata)
    if annotation is str:
        return "a non-empty string" if _bound(metadata, "min_length") else "a string"
    if origin in (list, tuple, Sequence) or annotation in (list, tuple):
        item = describe(args[0]) if args else "value"
        low, high = _bound(metadata, "min_length"), _bound(metadata, "max_length")
        count = f"{low} " if low is not None and low == high else ""
        at_least = f" (at least {low})" if low and low != high else ""
        return f"a list of {count}{_plural(item)}{at_least}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "the settings listed under its name"
    if origin in (dict, Mapping) or annotation is dict:
        return "a mapping of settings"
    return getattr(annotation, "__name__", str(annotation))


def _unwrap(annotation: Any, info: FieldInfo | None) -> tuple[Any, list]:
    """The bare type and every constraint around it (Annotated layers, the Field)."""
    metadata: list = [] if info is None else [info, *info.metadata]
    if info is not None and info.annotation is not None and annotation is None:
        annotation = info.annotation
    while typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            metadata += [item, *item.metadata] if isinstance(item, FieldInfo) else [item]
    return annotation, metadata


def _bound(metadata: list, name: str) -> Any:
    for item in metadata:
        value = getattr(item, name, None)
        if value is not None and not isinstance(item, FieldInfo | type):
            return value
    return None


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _ranged(noun: str, metadata: list) -> str:
    low = next(((">=", m.ge) for m in metadata if isinstance(m, at.Ge)), None) or next(
        ((">", m.gt) for m in metadata if isinstance(m, at.Gt)), None
    )
    high = next(((")", m.lt) for m in metadata if isinstance(m, at.Lt)), None) or next(
        (("]", m.le) for m in metadata if isinstance(m, at.Le)), None
    )
    if low and high:
        opening = "[" if low[0] == ">=" else "("
        return f"{noun} in {opening}{_number(low[1])}, {_number(high[1])}{high[0]}"
    if low:
        return f"{noun} {low[0]} {_number(low[1])}"
    if high:
        return f"{noun} {'<' if high[0] == ')' else '<='} {_number(high[1])}"
    return noun


def _plural(text: str) -> str:
    for singular, plural in (("an integer", "integers"), ("a number", "numbers"), ("a string", "strings")):
        if text.startswith(singular):
            return plural + text[len(singular) :]
    return text


# -- one line per mistake ----------------------------------------------------------------------


def _unknown(model: type[Settings]) -> str:
    """What a key of ``model`` must be, said of one it does not declare."""
    return getattr(model, "unknown", f"a setting that {model.__name__} takes")


def _parameters(init: Callable) -> dict[str, FieldInfo]:
    """A constructor's declared parameters as pydantic fields."""
    found = {}
    for name, parameter in inspect.signature(init, eval_str=True).parameters.items():
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL) or name == "self":
            continue
        found[name] = FieldInfo.from_annotation(parameter.annotation)
    return found


def _config_error(
    error: ValidationError,
    declared: dict[str, FieldInfo],
    unknown: str,
    given: Mapping,
    positions: Sequence[str] = (),
    prefix: str = "",
) -> ConfigError:
    """The first mistake of a ValidationError as a ConfigError worded from the declaration;
    ``given`` holds the values as the user gave them (an item's error shows the whole list),
    ``positions`` the names of positional parameters (pydantic locates those by index);
    ``unknown`` says what a key must be when it is not declared."""
    first = error.errors(include_url=False)[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):  # a validator that words its own refusal
        return cause.within(prefix.rstrip(".")) if prefix else cause
    loc = list(first["loc"])
    name, field = "", None
    while loc:  # down through nested Settings (task.likelihood) to the key that is wrong
        where = loc.pop(0)
        name = positions[where] if isinstance(where, int) and where < len(positions) else str(where)
        field = declared.get(name)
        nested = field.annotation if field is not None else None
        if loc and isinstance(nested, type) and issubclass(nested, Settings):
            prefix, declared, unknown = f"{prefix}{name}.", nested.model_fields, _unknown(nested)
            given = given.get(name) if isinstance(given.get(name), Mapping) else {}
            continue
        break
    got = given.get(name, first.get("input"))
    if first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        return ConfigError(f"{prefix}{name}", f"{unknown}{did_you_mean(name, declared)}", got, "unknown key")
    if first["type"] == "missing":
        return ConfigError(f"{prefix}{name}", "set (it has no default)")
    allowed = describe(field.annotation, field) if field is not None else first["msg"]
    return ConfigError(f"{prefix}{name}", allowed, got)


# -- the reference -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """One declared setting, as the reference lists it."""

    name: str
    allowed: str
    default: Any
    meaning: str
    required: bool = False


def _meaning(annotation: Any) -> str:
    """The description of a declared parameter, inside an ``| None`` too."""
    if typing.get_origin(annotation) is Annotated:
        described = [m.description for m in typing.get_args(annotation)[1:] if isinstance(m, FieldInfo)]
        return next((d for d in described if d), "")
    return next((m for m in map(_meaning, typing.get_args(annotation)) if m), "")


def fields(declaration: type | Callable) -> list[Declared]:
    """Every setting a class (its declared constructor, following ``**settings`` to its base
    classes) or a Settings model declares, in order."""
    if isinstance(declaration, type) and issubclass(declaration, BaseModel):
        return [
            Declared(
                name,
                describe(info.annotation, info),
                info.default,
                info.description or "",
                info.is_required(),
            )
            for name, info in declaration.model_fields.items()
        ]
    found: dict[str, Declared] = {}
    for klass in declaration.__mro__ if isinstance(declaration, type) else [declaration]:
        init = vars(klass).get("__init__") if isinstance(declaration, type) else declaration
        if init is None:
            continue
        signature = inspect.signature(init, eval_str=True)
        for name, parameter in signature.parameters.items():
            if name == "self" or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                continue
            if parameter.kind == parameter.POSITIONAL_ONLY or name in found:
                continue
            required = parameter.default is parameter.empty
            default = None if required else parameter.default
            meaning = _meaning(parameter.annotation)
            found[name] = Declared(name, describe(parameter.annotation), default, meaning, required)
        if not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    return list(found.values())
