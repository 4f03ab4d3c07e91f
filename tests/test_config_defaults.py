"""One source per default: values in conf/, types and ranges in the schemas, and nothing else
that could drift from them (constructor defaults must agree with the YAML where both exist)."""

from __future__ import annotations

import inspect
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import fields

import lightning as L
import pytest
from hydra.utils import get_class
from omegaconf import MISSING, OmegaConf

from conftest import CONF, compose_config
from sweeplab.config import (
    DATA_SCHEMAS,
    INIT_SCHEMAS,
    MODEL_SCHEMAS,
    TRAINER_RESERVED,
    CheckpointConfig,
    RunConfig,
    group_schema,
    optimizer_class,
    trainer_schema,
)

VALUE_SCHEMAS = [*DATA_SCHEMAS.values(), *MODEL_SCHEMAS.values(), *INIT_SCHEMAS.values(),
                 RunConfig, CheckpointConfig]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("schema", sorted(set(VALUE_SCHEMAS), key=lambda s: s.__name__),
                         ids=lambda s: s.__name__)
def test_schemas_hold_no_values(schema):
    """A value in a schema would be a second source beside conf/ (it would drift)."""
    with_values = [f.name for f in fields(schema)
                   if f.default not in (MISSING, NO_DEFAULT) or f.default_factory is not NO_DEFAULT]
    assert with_values == []


@pytest.mark.parametrize("group", ["data", "model", "init", "optim"])
def test_every_option_file_sets_exactly_its_schemas_keys(group, tmp_path):
    for option in options(group):
        extra = ["data=digits"] if group == "model" else []  # any data the model fits
        cfg = compose_config([f"{group}={option}", *extra], tmp_path)
        node = OmegaConf.to_container(cfg[group], resolve=True)
        schema = group_schema(group, node)
        required = {f.name for f in fields(schema) if f.default is MISSING}
        assert required <= set(node), f"{group}={option} lacks {required - set(node)}"
        assert set(node) <= {f.name for f in fields(schema)}, f"{group}={option}"


@pytest.mark.parametrize("group", ["data", "model"])
def test_constructor_defaults_agree_with_the_yaml(group, tmp_path):
    """Python defaults of the DataModules and networks exist for direct use; those of the class
    a config names must say what its conf/ file says."""
    for option in options(group):
        extra = ["data=digits"] if group == "model" else []
        cfg = compose_config([f"{group}={option}", *extra], tmp_path)
        raw = OmegaConf.to_container(cfg[group], resolve=False)
        cls = get_class(raw["_target_"])
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if p.default is inspect.Parameter.empty or name not in raw:
                continue
            value = raw[name]
            if isinstance(value, str) and "${" in value:
                continue  # an interpolation (data.seed: ${seed}) is not a default
            default = list(p.default) if isinstance(p.default, tuple) else p.default
            assert default == value, (f"{cls.__name__}({name}={p.default!r}) but "
                                      f"{group}/{option}.yaml says {value!r}")


def test_trainer_schema_accepts_every_lightning_trainer_argument():
    arguments = set(inspect.signature(L.Trainer).parameters) - {"self"}
    schema = {f.name for f in fields(trainer_schema())} - {"_target_"}
    assert schema == arguments - set(TRAINER_RESERVED)


def test_an_optimiser_schema_is_its_torch_signature():
    schema = {f.name for f in fields(group_schema("optim",
                                                   {"_target_": "torch.optim.AdamW"}))}
    torch_args = set(inspect.signature(optimizer_class("torch.optim.AdamW")).parameters)
    assert torch_args - {"params"} <= schema
