"""The checks that run before a job trains: its config against the schemas, the model against
the data. Every failure is a `ConfigError` whose message names the key and what is allowed."""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from sweeplab.config import (
    DATA_SCHEMAS,
    ConfigError,
    RunConfig,
    allowed_keys,
    model_class,
    validate,
)
from sweeplab.data.base import TensorDataModule
from sweeplab.models.cnn import SmallCNN, conv_output_shape
from sweeplab.models.logistic import LogisticRegression
from sweeplab.models.softmax import SoftmaxRegression

#: the config groups train.yaml composes (a user's search path may add more)
GROUPS = ("data", "model", "optim", "init", "trainer", "logger", "callbacks", "paths",
          "experiment", "hparams_search")


def check_top_level(cfg: DictConfig) -> None:
    """Reject top-level keys that are neither a run setting nor a config group (`+new.key=1`)."""
    settings = allowed_keys(RunConfig)
    groups = set(GROUPS)
    if HydraConfig.initialized():
        groups |= {g.split("/")[0] for g in HydraConfig.get().runtime.choices}
    for key in cfg:
        if key != "hydra" and key not in settings and key not in groups:
            raise ConfigError(f"{key}: unknown top-level key; allowed: {', '.join(settings)}, "
                              f"and the groups {', '.join(sorted(groups))}")


def build_datamodule(cfg: DictConfig) -> TensorDataModule:
    """Instantiate the DataModule (no data is loaded until `setup`); sweeplab's own classes
    only, so a config read from a job folder cannot name arbitrary code."""
    if cfg.data.get("_target_") not in DATA_SCHEMAS:
        raise ConfigError(f"data._target_: {cfg.data.get('_target_')!r} is not a sweeplab "
                          f"dataset; allowed: {', '.join(sorted(DATA_SCHEMAS))}")
    try:
        return instantiate(cfg.data)
    except Exception as exc:  # constructor checks, e.g. an image folder with one class
        cause = exc.__cause__ or exc
        raise ConfigError(f"data: {cause}") from None


def check_compatible(cfg: DictConfig, dm: TensorDataModule) -> None:
    """Reject model/data pairs that cannot train, before any data is loaded."""
    model, data_name = cfg.model, dm.__class__.__name__
    family = model_class(model._target_)
    shape = list(dm.input_shape)
    if model.get("input_shape") is not None and list(model.input_shape) != shape:
        raise ConfigError(f"model.input_shape={list(model.input_shape)} does not match the "
                          f"data ({data_name} gives inputs of shape {shape})")
    if not dm.classifies:
        if model.loss not in ("auto", "mse"):
            raise ConfigError(f"model.loss={model.loss} does not apply to regression data "
                              f"({data_name}); allowed: auto, mse")
        if family in (LogisticRegression, SoftmaxRegression, SmallCNN):
            raise ConfigError(f"model={family.__name__} does not fit regression data "
                              f"({data_name}); use model=mlp or model=deep")
    elif family is LogisticRegression and dm.num_classes != 2:
        raise ConfigError(f"model=logistic needs two-class data; {data_name} has "
                          f"{dm.num_classes} classes (use model=softmax)")
    elif model.loss == "bce" and dm.num_classes != 2:
        raise ConfigError(f"model.loss=bce needs two-class data; {data_name} has "
                          f"{dm.num_classes} classes; allowed here: auto, ce, mse")
    if family is SmallCNN:
        if len(shape) != 3:
            raise ConfigError(f"model=cnn needs image data (C, H, W); {data_name} gives "
                              f"inputs of shape {shape}")
        c, h, w = conv_output_shape(tuple(shape), list(model.channels), model.kernel_size,
                                    model.padding, model.stride, model.pool, model.pool_size,
                                    model.pool_stride)
        if h < 1 or w < 1:
            raise ConfigError(f"model=cnn: {len(model.channels)} conv blocks (kernel "
                              f"{model.kernel_size}, padding {model.padding}, pool "
                              f"{model.pool} {model.pool_size}) shrink {shape[1]}x{shape[2]} "
                              f"inputs to {h}x{w}; use fewer blocks, padding or less pooling")


def check_config(cfg: DictConfig) -> TensorDataModule:
    """Every check that can run before training; the job's DataModule. Raises ConfigError."""
    check_top_level(cfg)
    validate(cfg)
    dm = build_datamodule(cfg)
    check_compatible(cfg, dm)
    return dm
