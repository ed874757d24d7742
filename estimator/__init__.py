"""LLM Capacity Planner estimator: memory, performance, cost and carbon of LLMs.

Pure computation: no Streamlit. Every formula cites its source in its docstring.
"""

import importlib
from typing import Any

from estimator import catalog, hf, memory, units
from estimator.catalog import get_hardware, get_model, list_hardware, list_models
from estimator.errors import (
    CatalogError,
    ConfigError,
    DoesNotFitError,
    EstimatorError,
    InvalidInputError,
    UnknownIdError,
)
from estimator.scenario import Scenario
from estimator.specs import HardwareSpec, Instance, ModelSpec, Region
from estimator.units import DType

__version__ = "0.1.0"

_LAZY_SUBMODULES = frozenset({
    "capacity", "carbon", "modes", "performance", "pricing", "recommend", "report", "scaling", "scenario", "simulate",
    "store", "traffic", "training", "variants",
})


def __getattr__(name: str) -> Any:
    """``estimator.performance`` etc. import on first use, so ``import estimator`` stays light."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"estimator.{name}")
    raise AttributeError(f"module 'estimator' has no attribute {name!r}")


__all__ = [
    "capacity",
    "carbon",
    "catalog",
    "hf",
    "memory",
    "modes",
    "performance",
    "pricing",
    "recommend",
    "report",
    "scaling",
    "scenario",
    "simulate",
    "store",
    "traffic",
    "training",
    "units",
    "variants",
    "Scenario",
    "get_model",
    "get_hardware",
    "list_models",
    "list_hardware",
    "ModelSpec",
    "HardwareSpec",
    "Instance",
    "Region",
    "DType",
    "EstimatorError",
    "InvalidInputError",
    "UnknownIdError",
    "CatalogError",
    "ConfigError",
    "DoesNotFitError",
]
