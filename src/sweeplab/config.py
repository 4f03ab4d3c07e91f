"""Structured config schemas and the checks that run before any training.

Every config group option has a dataclass schema that holds types and ranges, never values: the
values live in `conf/` only (tests/test_config_defaults.py fails if the two drift). `validate(cfg)`
merges each group into its schema (rejecting unknown keys, wrong types and missing keys), runs the
range checks in `__post_init__`, and raises `ConfigError` with one line naming the key and what is
allowed.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import re
from dataclasses import dataclass, fields, make_dataclass
from typing import Any

import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from sweeplab.models.layers import ACTIVATIONS


class ConfigError(ValueError):
    """A configuration that cannot be trained; the message names the key and what is allowed."""


class FieldError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise FieldError(key, message)


def one_of(value: str, key: str, allowed) -> None:
    require(value in allowed, key,
            f"{value!r} is not allowed; allowed: {', '.join(map(str, allowed))}")


def fraction_or_count(value: float, key: str) -> None:
    """A held-out split's size; 0 would leave its metric NaN, reported as if it were one."""
    require(value > 0 and (value < 1 or float(value).is_integer()), key,
            f"must be a fraction in (0, 1) or a whole count >= 1, got {value}")



# ---------------------------------------------------------------- data


@dataclass
class DataConfig:
    _target_: str = MISSING
    batch_size: int = MISSING
    shuffle: bool = MISSING
    full_batch: bool = MISSING
    seed: int = MISSING
    eval_batch_size: int = MISSING

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.eval_batch_size >= 1, "eval_batch_size",
                f"must be >= 1, got {self.eval_batch_size}")


@dataclass
class GeneratedConfig(DataConfig):
    val_size: float = MISSING
    test_size: float = MISSING
    eval_on_train: bool = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction_or_count(self.val_size, "val_size")
        fraction_or_count(self.test_size, "test_size")


@dataclass
class SpiralConfig(GeneratedConfig):
    n_per_class: int = MISSING
    classes: int = MISSING
    noise: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n_per_class >= 2, "n_per_class", f"must be >= 2, got {self.n_per_class}")
        require(self.classes >= 2, "classes", f"must be >= 2, got {self.classes}")
        require(self.noise >= 0, "noise", f"must be >= 0, got {self.noise}")


@dataclass
class XorConfig(GeneratedConfig):
    n: int = MISSING
    noise: float = MISSING
    noise_in_loop: bool = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n >= 4, "n", f"must be >= 4, got {self.n}")
        require(self.noise >= 0, "noise", f"must be >= 0, got {self.noise}")


@dataclass
class SyntheticConfig(GeneratedConfig):
    kind: str = MISSING
    start: float = MISSING
    stop: float = MISSING
    step: float = MISSING
    num: int = MISSING
    thresholds: list[float] = MISSING
    intervals: list[list[float]] = MISSING
    n: int = MISSING
    noise: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.kind, "kind", ("line1d", "quadratic2d"))
        require(self.step > 0, "step", f"must be > 0, got {self.step}")
        require(self.stop > self.start, "stop", f"must be > start ({self.start})")
        for i, iv in enumerate(self.intervals):
            require(len(iv) == 2 and iv[0] < iv[1], f"intervals[{i}]",
                    f"must be [low, high] with low < high, got {list(iv)}")


@dataclass
class PolynomialConfig(DataConfig):
    coefficients: list[float] = MISSING
    n: int = MISSING
    low: float = MISSING
    high: float = MISSING
    noise: float = MISSING
    n_val: int = MISSING
    n_test: int = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.high > self.low, "high", f"must be > low ({self.low})")
        require(self.n >= 2, "n", f"must be >= 2, got {self.n}")
        require(self.n_val >= 1, "n_val", f"must be >= 1, got {self.n_val}")
        require(self.n_test >= 1, "n_test", f"must be >= 1, got {self.n_test}")


@dataclass
class ImageConfig(DataConfig):
    mean: float = MISSING
    std: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.std > 0, "std", f"must be > 0, got {self.std}")


@dataclass
class LinesConfig(GeneratedConfig):
    n: int = MISSING
    p: float = MISSING
    offset: int | None = MISSING
    mean: float = MISSING
    std: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.p <= 1, "p", f"must be in (0, 1], got {self.p}")
        require(self.offset is None or 0 <= self.offset <= 3, "offset",
                f"must be null (anywhere) or 0..3 (the course's shifts), got {self.offset}")


@dataclass
class DigitsConfig(ImageConfig):
    image_size: int = MISSING
    val_size: float = MISSING
    test_size: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(4 <= self.image_size <= 64, "image_size",
                f"must be between 4 and 64 (8 is native; 16 and 28 fit the CNN labs), "
                f"got {self.image_size}")


@dataclass
class MNISTConfig(ImageConfig):
    data_dir: str = MISSING
    download: bool = MISSING
    val_size: float = MISSING
    image_size: int = MISSING
    train_size: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction_or_count(self.val_size, "val_size")
        require(self.train_size >= 0, "train_size",
                f"must be 0 (all), a fraction in (0, 1) or a count >= 1, got {self.train_size}")
        require(4 <= self.image_size <= 64, "image_size",
                f"must be between 4 and 64, got {self.image_size}")


@dataclass
class ImageFolderConfig(ImageConfig):
    root: str | None = MISSING
    standin: bool = MISSING
    image_size: int = MISSING
    channels: int = MISSING
    val_size: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.root), "root", "must name a folder with one subfolder per class")
        one_of(self.channels, "channels", (1, 3))
        fraction_or_count(self.val_size, "val_size")


DATA_SCHEMAS: dict[str, type] = {
    "sweeplab.data.spiral.SpiralData": SpiralConfig,
    "sweeplab.data.xor.XorData": XorConfig,
    "sweeplab.data.synthetic.SyntheticData": SyntheticConfig,
    "sweeplab.data.polynomial.PolynomialData": PolynomialConfig,
    "sweeplab.data.lines.LinesData": LinesConfig,
    "sweeplab.data.digits.DigitsData": DigitsConfig,
    "sweeplab.data.mnist.MNISTData": MNISTConfig,
    "sweeplab.data.fashion_mnist.FashionMNISTData": MNISTConfig,
    "sweeplab.data.image_folder.ImageFolderData": ImageFolderConfig,
}

# ---------------------------------------------------------------- model

LOSSES = ("auto", "ce", "bce", "mse")


@dataclass
class ModelConfig:
    _target_: str = MISSING
    loss: str = MISSING
    input_shape: list[int] | None = MISSING

    def __post_init__(self) -> None:
        one_of(self.loss, "loss", LOSSES)


@dataclass
class LogisticConfig(ModelConfig):
    pass


@dataclass
class SoftmaxConfig(ModelConfig):
    pass


@dataclass
class DenseConfig(ModelConfig):
    activation: str = MISSING
    dropout: float = MISSING
    batchnorm: bool = MISSING
    bn_after_activation: bool = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.activation, "activation", tuple(ACTIVATIONS))
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class MLPConfig(DenseConfig):
    hidden: int = MISSING
    activation: str = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden >= 1, "hidden", f"must be >= 1, got {self.hidden}")


@dataclass
class DeepConfig(DenseConfig):
    hidden: list[int] = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(all(h >= 1 for h in self.hidden), "hidden",
                f"every size must be >= 1, got {list(self.hidden)}")


@dataclass
class CNNConfig(DenseConfig):
    channels: list[int] = MISSING
    kernel_size: int = MISSING
    padding: int = MISSING
    stride: int = MISSING
    pool: str = MISSING
    pool_size: int = MISSING
    pool_stride: int | None = MISSING
    hidden: list[int] = MISSING
    logit_batchnorm: bool = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.channels) >= 1 and all(c >= 1 for c in self.channels), "channels",
                f"must be a non-empty list of sizes >= 1, got {list(self.channels)}")
        require(self.kernel_size >= 1, "kernel_size", f"must be >= 1, got {self.kernel_size}")
        require(self.padding >= 0, "padding", f"must be >= 0, got {self.padding}")
        require(self.stride >= 1, "stride", f"must be >= 1, got {self.stride}")
        one_of(self.pool, "pool", ("max", "avg", "none"))
        require(self.pool_size >= 1, "pool_size", f"must be >= 1, got {self.pool_size}")


def model_class(target: str) -> type:
    """The network class a model config names: sweeplab's own only (a config or checkpoint
    naming anything else is refused, so loading a job folder cannot run arbitrary code)."""
    if target not in MODEL_SCHEMAS:
        raise ConfigError(f"model._target_: {target!r} is not a sweeplab model; allowed: "
                          f"{', '.join(sorted(MODEL_SCHEMAS))}")
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


MODEL_SCHEMAS: dict[str, type] = {
    "sweeplab.models.logistic.LogisticRegression": LogisticConfig,
    "sweeplab.models.softmax.SoftmaxRegression": SoftmaxConfig,
    "sweeplab.models.mlp.MLP": MLPConfig,
    "sweeplab.models.deep.DeepNet": DeepConfig,
    "sweeplab.models.cnn.SmallCNN": CNNConfig,
}

# ---------------------------------------------------------------- init


@dataclass
class InitConfig:
    scheme: str = MISSING
    bias: float | None = MISSING

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            require(not isinstance(value, float) or math.isfinite(value), f.name,
                    f"must be a finite number, got {value}")


@dataclass
class DefaultInitConfig(InitConfig):
    pass


@dataclass
class UniformInitConfig(InitConfig):
    low: float = MISSING
    high: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.high > self.low, "high", f"must be > low ({self.low})")


@dataclass
class NormalInitConfig(InitConfig):
    mean: float = MISSING
    std: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.std > 0, "std", f"must be > 0, got {self.std}")


@dataclass
class XavierInitConfig(InitConfig):
    distribution: str = MISSING
    gain: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.distribution, "distribution", ("uniform", "normal"))
        require(self.gain > 0, "gain", f"must be > 0, got {self.gain}")


@dataclass
class HeInitConfig(InitConfig):
    distribution: str = MISSING
    nonlinearity: str = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.distribution, "distribution", ("uniform", "normal"))
        one_of(self.nonlinearity, "nonlinearity", ("relu", "leaky_relu"))


@dataclass
class ConstantInitConfig(InitConfig):
    weight: float = MISSING
    bias: float | None = MISSING


INIT_SCHEMAS: dict[str, type] = {
    "default": DefaultInitConfig, "uniform": UniformInitConfig, "normal": NormalInitConfig,
    "xavier": XavierInitConfig, "he": HeInitConfig, "constant": ConstantInitConfig,
}

# ---------------------------------------------------------------- optimiser

SCHEDULERS = ("none", "step", "cosine", "exponential")
#: optim keys that choose the per-epoch lr schedule; every other key is the optimiser's own
SCHEDULE_KEYS = ("scheduler", "step_size", "gamma")


@dataclass
class OptimConfig:
    """What every optimiser YAML sets; the optimiser's own keyword arguments come from its
    signature (`optimizer_schema`), so a new `torch.optim` class needs only a YAML file."""

    _target_: str = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    scheduler: str = MISSING
    step_size: int = MISSING
    gamma: float = MISSING

    def __post_init__(self) -> None:
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        one_of(self.scheduler, "scheduler", SCHEDULERS)
        require(self.step_size >= 1, "step_size", f"must be >= 1, got {self.step_size}")
        require(0 < self.gamma <= 1, "gamma", f"must be in (0, 1], got {self.gamma}")
        momentum = getattr(self, "momentum", None)
        if momentum is not None:
            require(0 <= momentum < 1, "momentum", f"must be in [0, 1), got {momentum}")
            require(not getattr(self, "nesterov", False) or momentum > 0, "nesterov",
                    "needs momentum > 0")
        betas = getattr(self, "betas", None)
        if betas is not None:
            require(len(betas) == 2 and all(0 <= b < 1 for b in betas), "betas",
                    f"must be two numbers in [0, 1), got {list(betas)}")


def optimizer_class(target: str) -> type[torch.optim.Optimizer]:
    """The `torch.optim` class an optim config names; ConfigError for anything else."""
    module, _, name = str(target).rpartition(".")
    cls = getattr(torch.optim, name, None) if module == "torch.optim" else None
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        allowed = sorted(n for n, c in vars(torch.optim).items()
                         if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
                         and c is not torch.optim.Optimizer)
        raise ConfigError(f"optim._target_: {target!r} is not a torch.optim optimiser; allowed: "
                          f"{', '.join('torch.optim.' + n for n in allowed)}")
    return cls


def _field_type(default: Any) -> Any:
    """The config type of a keyword argument, read from its default value."""
    if isinstance(default, bool):
        return bool | None
    if isinstance(default, int | float):
        return float | None
    if isinstance(default, str):
        return str | None
    if isinstance(default, tuple | list):
        return list[float] | None
    return Any


@functools.cache
def optimizer_schema(cls: type) -> type:
    """OptimConfig plus the optimiser's keyword arguments (absent ones keep torch's default)."""
    base = {f.name for f in fields(OptimConfig)}
    extra = [(n, _field_type(p.default), None)
             for n, p in inspect.signature(cls).parameters.items()
             if n != "params" and n not in base and p.default is not inspect.Parameter.empty]
    return make_dataclass(f"{cls.__name__}Config", extra, bases=(OptimConfig,))


# ---------------------------------------------------------------- trainer

PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "32", "16",
              "bf16", "64", "transformer-engine", "transformer-engine-float16")
#: Trainer arguments sweeplab sets itself (config groups `logger`, `callbacks`; `paths`)
TRAINER_RESERVED = ("logger", "callbacks", "default_root_dir")


@dataclass
class TrainerChecks:
    """The Trainer arguments sweeplab checks before training; `trainer_schema` adds the rest of
    `lightning.Trainer`'s signature. Values come from conf/trainer/*.yaml (absent keys: None,
    meaning Lightning's own default)."""

    _target_: str = MISSING
    accelerator: str | None = None
    precision: Any = None
    max_epochs: int | None = None
    max_steps: int | None = None
    check_val_every_n_epoch: int | None = None
    log_every_n_steps: int | None = None
    enable_checkpointing: bool | None = None
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    limit_predict_batches: Any = None
    accumulate_grad_batches: Any = None
    devices: Any = None
    strategy: Any = None
    num_nodes: Any = None

    def __post_init__(self) -> None:
        self.check_counts()
        require(self.enable_checkpointing is not False, "enable_checkpointing",
                "must stay true: sweeplab's interrupt checkpoints are a Checkpoint callback")
        if self.accelerator is not None:
            one_of(self.accelerator, "accelerator", ("auto", "cpu", "gpu", "cuda", "mps"))
        if self.precision is not None:
            one_of(str(self.precision), "precision", PRECISIONS)
        epochs, steps = self.max_epochs, self.max_steps
        if epochs is not None:
            require(epochs >= 1 or epochs == -1, "max_epochs",
                    f"must be >= 1 (or -1 with max_steps), got {epochs}")
        if steps is not None:
            require(steps >= 1 or steps == -1, "max_steps",
                    f"must be >= 1, or -1 for no limit, got {steps}")
        require(epochs != -1 or steps not in (None, -1), "max_steps",
                "set max_steps when max_epochs is -1")
        for key in ("log_every_n_steps", "check_val_every_n_epoch"):
            value = getattr(self, key)
            require(value is None or value >= 1, key, f"must be >= 1, got {value}")

    def check_counts(self) -> None:
        """The values Lightning would reject with a traceback once the job starts."""
        for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches",
                    "limit_predict_batches"):
            value = getattr(self, key)
            require(value is None or (is_number(value) and (0 <= value <= 1 or (
                    value > 1 and float(value).is_integer()))), key,
                    f"must be a fraction in [0, 1] or a whole number of batches, got {value}")
        for key in ("accumulate_grad_batches", "num_nodes"):
            value = getattr(self, key)
            require(value is None or (is_number(value) and int(value) == value and value >= 1),
                    key, f"must be a whole number >= 1, got {value}")
        devices = self.devices
        require(devices is None or devices in ("auto", -1, "-1") or (
                is_number(devices) and int(devices) == devices and devices >= 1) or (
                isinstance(devices, list | tuple) and len(devices) > 0) or (
                isinstance(devices, str) and devices.replace(",", "").strip().isdigit()),
                "devices", f"must be auto, -1 (all), a count >= 1 or a list of device indices, "
                           f"got {devices!r}")
        if self.strategy is not None:
            one_of(self.strategy, "strategy", strategies())


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@functools.cache
def strategies() -> tuple[str, ...]:
    """The strategy names Lightning's Trainer accepts as strings."""
    from lightning.pytorch.strategies import StrategyRegistry

    return ("auto", *sorted(StrategyRegistry.available_strategies()))


@functools.cache
def trainer_schema() -> type:
    """TrainerChecks plus every other argument of `lightning.Trainer` (typed Any)."""
    import lightning as L

    base = {f.name for f in fields(TrainerChecks)}
    extra = [(n, Any, None) for n in inspect.signature(L.Trainer).parameters
             if n not in base and n not in TRAINER_RESERVED and n != "self"]
    return make_dataclass("TrainerConfig", extra, bases=(TrainerChecks,))


# ---------------------------------------------------------------- top level


#: what a job can optimise and sort by (the metrics the task modules log at epoch end)
METRICS = ("val/acc", "val/acc_best", "val/loss", "val/loss_best", "train/loss", "train/acc",
           "test/acc", "test/loss")
#: which weights the test measures (sweeplab.best_checkpoint)
TEST_ON = ("auto", "best", "last")
MAX_SEED = 2**32 - 1  # numpy's and Lightning's seeding accept 32-bit seeds
#: torch's thread pool crashes (exit 139) when asked for far more threads than any machine has
MAX_THREADS = 1024


@dataclass
class CheckpointConfig:
    """Periodic checkpoints (sweeplab.robust.GracefulStop): at the end of every `every_n_epochs`
    epochs (0: none), once at least `min_interval_s` seconds have passed since training started
    or the last one was written."""

    every_n_epochs: int = MISSING
    min_interval_s: float = MISSING

    def __post_init__(self) -> None:
        require(self.every_n_epochs >= 0, "checkpoint.every_n_epochs",
                f"must be >= 0 (0: no periodic checkpoints), got {self.every_n_epochs}")
        require(math.isfinite(self.min_interval_s) and self.min_interval_s >= 0,
                "checkpoint.min_interval_s", f"must be a number of seconds >= 0, got "
                f"{self.min_interval_s}")


@dataclass
class RunConfig:
    seed: int = MISSING
    threads: int = MISSING
    optimized_metric: str = MISSING
    test: bool = MISSING
    task_name: str = MISSING
    resume: bool = MISSING
    eval_train: bool = MISSING
    lab: str | None = MISSING
    test_on: str = MISSING
    checkpoint: CheckpointConfig = MISSING
    steps_per_call: Any = MISSING
    compile: bool = MISSING

    def __post_init__(self) -> None:
        steps = self.steps_per_call
        require(steps == "auto" or (is_number(steps) and int(steps) == steps and steps >= 1),
                "steps_per_call", f"must be auto or a whole number >= 1, got {steps!r}")
        one_of(self.optimized_metric, "optimized_metric", ("auto", *METRICS))
        one_of(self.test_on, "test_on", TEST_ON)
        require(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        require(self.seed <= MAX_SEED, "seed", f"must be <= {MAX_SEED} (32 bits), got {self.seed}")
        require(0 <= self.threads <= MAX_THREADS, "threads",
                f"must be 0 (automatic) to {MAX_THREADS}, got {self.threads}")
        require(self.test or not self.optimized_metric.startswith("test/"), "optimized_metric",
                f"{self.optimized_metric} needs test=true (the test set is not run)")
        if self.lab is not None:
            from sweeplab.labs import LABS

            one_of(self.lab, "lab", tuple(LABS))


def _schema_for(group: str, node: dict, registry: dict[str, type], by: str) -> type:
    name = node.get(by)
    if name not in registry:
        raise ConfigError(f"{group}.{by}: {name!r} is not known; allowed: "
                          f"{', '.join(sorted(registry))}")
    return registry[name]


def allowed_keys(schema: type) -> list[str]:
    return [f.name for f in fields(schema) if not f.name.startswith("_")]


@functools.cache
def structured(schema: type) -> DictConfig:
    """The schema as a structured config, built once per schema: building it costs as much as
    the merge, and `OmegaConf.merge` copies it rather than changing it."""
    return OmegaConf.structured(schema)


def check_group(group: str, node: dict, schema: type) -> Any:
    """Merge one group's plain dict into its schema; the typed object, or ConfigError."""
    prefix = f"{group}." if group else ""
    try:
        merged = OmegaConf.merge(structured(schema), node)
        return OmegaConf.to_object(merged)
    except FieldError as exc:
        raise ConfigError(f"{prefix}{exc.key}: {exc}") from None
    except ConfigKeyError as exc:
        key = getattr(exc, "key", None) or str(exc).split("'")[1]
        raise ConfigError(f"{prefix}{key}: unknown key; allowed: "
                          f"{', '.join(allowed_keys(schema))}") from None
    except MissingMandatoryValue as exc:
        raise ConfigError(f"{prefix}{exc.full_key or exc.key}: no value; every key of "
                          f"{schema.__name__} needs one") from None
    except ValidationError as exc:
        raise ConfigError(f"{prefix}{exc.full_key or '?'}: {_plain_message(exc)}") from None


def _plain_message(exc: ValidationError) -> str:
    first = str(exc).splitlines()[0]
    m = re.match(r"Value '(.*)' of type '\w+' could not be converted to (\w+)", first)
    if m:
        kind = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false"}
        return f"expected {kind.get(m.group(2), m.group(2))}, got {m.group(1)!r}"
    if "is not a ListConfig" in first:
        return "expected a list, for example [16, 32]"
    return first


def group_schema(group: str, node: dict) -> type:
    """The schema of one composed config group."""
    if group == "data":
        return _schema_for(group, node, DATA_SCHEMAS, "_target_")
    if group == "model":
        return _schema_for(group, node, MODEL_SCHEMAS, "_target_")
    if group == "init":
        return _schema_for(group, node, INIT_SCHEMAS, "scheme")
    if group == "optim":
        return optimizer_schema(optimizer_class(node.get("_target_")))
    if group == "trainer":
        return trainer_schema()
    raise KeyError(group)


GROUPS = ("data", "model", "optim", "init", "trainer")


def validate(cfg: DictConfig) -> dict[str, Any]:
    """Check every group before training; returns the typed objects by group name."""
    def plain(group: str) -> dict:
        try:
            return OmegaConf.to_container(cfg[group], resolve=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{group}: {str(exc).splitlines()[0]}") from None

    # the run's own keys first: groups interpolate them (data.seed: ${seed}), and a bad value
    # is named where the user set it
    top = {f.name: cfg[f.name] for f in fields(RunConfig) if f.name in cfg}
    typed: dict[str, Any] = {"run": check_group("", top, RunConfig)}
    for group in GROUPS:
        node = plain(group)
        typed[group] = check_group(group, node, group_schema(group, node))
    check_steps_per_call(typed["run"].steps_per_call, plain("trainer"))
    return typed


def check_steps_per_call(steps: Any, trainer: dict[str, Any]) -> None:
    """Several steps per Lightning step only where Lightning's step is not the unit of a
    trainer setting (`auto` falls back to one quietly)."""
    from sweeplab.steps import why_one_step

    reason = why_one_step(trainer)
    if steps not in ("auto", 1) and reason is not None:
        raise ConfigError(f"steps_per_call: {steps} needs one batch per Lightning step with "
                          f"{reason}; allowed: auto or 1")
