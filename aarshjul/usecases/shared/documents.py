"""Read models built in bulk: a constructor that skips validation but keeps the model's signature.

A report such as the status board builds thousands of small models (a cell per unit and step) from
values that are of their fields' types already: the database's typed columns and the report's own
arithmetic. Validating them again is most of the report's time, and ``model_construct``, the
documented way around it, is slower still (it fills in every field in Python). ``unvalidated(Model)``
makes the same instance ``model_construct`` makes when every field is given, at the cost of a dict,
and has the model's own constructor signature, so mypy checks every call's names and types. A
test that validates the finished document against its models (``Model.model_validate_json(json)``,
with serialiser warnings as errors) keeps the values honest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from pydantic import BaseModel

P = ParamSpec("P")
M = TypeVar("M", bound=BaseModel)


def unvalidated(model: Callable[P, M]) -> Callable[P, M]:
    """A constructor of ``model`` (a Pydantic model without private attributes or extra fields)
    that trusts its arguments' values. A call that leaves out a field with a default goes the slow
    way, through ``model_construct``, so the default is there; an unknown name is refused."""
    cls = cast(type[M], model)
    if cls.__private_attributes__ or cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__}: only for models without private attributes or extra fields")
    new, set_attribute = cls.__new__, object.__setattr__
    every = frozenset(cls.model_fields)

    def make(*args: P.args, **values: P.kwargs) -> M:
        if args or values.keys() != every:
            unknown = values.keys() - every
            if args or unknown:
                raise TypeError(f"{cls.__name__} takes its fields by name; not {sorted(unknown) or args}")
            return cls.model_construct(**cast(dict[str, Any], values))
        instance = new(cls)
        set_attribute(instance, "__dict__", values)
        set_attribute(instance, "__pydantic_fields_set__", every)
        set_attribute(instance, "__pydantic_extra__", None)
        set_attribute(instance, "__pydantic_private__", None)
        return instance

    return make
