"""Money in view models: a Decimal in Python, NOK with two decimals as a string in JSON ("12500.00"),
so no reader ever gets a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from aarshjul.domain.planning import Sums

NOK = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "NOK, two decimals", "examples": ["12500.00"]},
        mode="serialization",
    ),
]


class Amounts(BaseModel):
    """Money added up: all of it, the part with a funding source and the part without."""

    model_config = ConfigDict(frozen=True)
    total: NOK
    funded: NOK
    unfunded: NOK = Field(description="Cost lines with no funding source yet")

    @classmethod
    def of(cls, sums: Sums) -> Amounts:
        return cls(total=sums.total, funded=sums.funded, unfunded=sums.unfunded)
