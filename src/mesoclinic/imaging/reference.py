"""The imaging reference data (``data/imaging.yaml``), loaded and validated once per process."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources

import yaml

from mesoclinic.imaging.rules import ImagingReference, MetricSpec


@functools.cache
def reference() -> ImagingReference:
    raw = yaml.safe_load(
        resources.files("mesoclinic.imaging").joinpath("data", "imaging.yaml").read_text("utf-8")
    )
    ref = ImagingReference.model_validate(raw)
    for kind, codes in (("zone", [z.code for z in ref.zones]), ("metric", [m.code for m in ref.metrics])):
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate {kind} codes in imaging.yaml")
    return ref


@functools.cache
def metric_specs() -> Mapping[str, MetricSpec]:
    return {m.code: m for m in reference().metrics}
