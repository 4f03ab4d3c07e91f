"""Structured config schemas and the checks that run before any training.

Every config group option has a dataclass schema. `validate(cfg)` merges each group into its
schema (rejecting unknown keys and wrong types), runs the range checks in `__post_init__`, and
raises `ConfigError` with one line naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

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
    require(value >= 0, key, f"must be a fraction in [0, 1) or a count >= 1, got {value}")


# ---------------------------------------------------------------- data


@dataclass
class DataConfig:
    _target_: str = ""
    batch_size: int = 64
    shuffle: bool = True
    full_batch: bool = False
    seed: int = 0
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.eval_batch_size >= 1, "eval_batch_size",
                f"must be >= 1, got {self.eval_batch_size}")


@dataclass
class GeneratedConfig(DataConfig):
    val_size: float = 0.2
    test_size: float = 0.2
    eval_on_train: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction_or_count(self.val_size, "val_size")
        fraction_or_count(self.test_size, "test_size")


@dataclass
class SpiralConfig(GeneratedConfig):
    n_per_class: int = 500
    classes: int = 3
    noise: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n_per_class >= 2, "n_per_class", f"must be >= 2, got {self.n_per_class}")
        require(self.classes >= 2, "classes", f"must be >= 2, got {self.classes}")
        require(self.noise >= 0, "noise", f"must be >= 0, got {self.noise}")


@dataclass
class XorConfig(GeneratedConfig):
    n: int = 100
    noise: float = 0.01
    noise_in_loop: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n >= 4, "n", f"must be >= 4, got {self.n}")
        require(self.noise >= 0, "noise", f"must be >= 0, got {self.noise}")


@dataclass
class SyntheticConfig(GeneratedConfig):
    kind: str = "line1d"
    start: float = -1.0
    stop: float = 1.0
    step: float = 0.1
    num: int = 0
    thresholds: list[float] = field(default_factory=lambda: [0.2])
    intervals: list[list[float]] = field(default_factory=list)
    n: int = 1000
    noise: float = 0.2

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
    coefficients: list[float] = field(default_factory=lambda: [0.0, 0.0, 1.0])
    n: int = 40
    low: float = -1.0
    high: float = 1.0
    noise: float = 1.0
    n_val: int = 40
    n_test: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.high > self.low, "high", f"must be > low ({self.low})")
        require(self.n >= 2, "n", f"must be >= 2, got {self.n}")


@dataclass
class ImageConfig(DataConfig):
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.std > 0, "std", f"must be > 0, got {self.std}")


@dataclass
class LinesConfig(GeneratedConfig):
    n: int = 2000
    p: float = 0.9
    offset: int | None = None
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.p <= 1, "p", f"must be in (0, 1], got {self.p}")
        require(self.offset is None or 0 <= self.offset <= 3, "offset",
                f"must be null (anywhere) or 0..3 (the course's shifts), got {self.offset}")


@dataclass
class DigitsConfig(ImageConfig):
    image_size: int = 8
    val_size: float = 0.15
    test_size: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        require(4 <= self.image_size <= 64, "image_size",
                f"must be between 4 and 64 (8 is native; 16 and 28 fit the CNN labs), "
                f"got {self.image_size}")


@dataclass
class MNISTConfig(ImageConfig):
    data_dir: str = "data"
    download: bool = True
    val_size: float = 5000
    image_size: int = 28
    train_size: float = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction_or_count(self.val_size, "val_size")
        require(self.train_size >= 0, "train_size",
                f"must be 0 (all), a fraction in (0, 1) or a count >= 1, got {self.train_size}")
        require(4 <= self.image_size <= 64, "image_size",
                f"must be between 4 and 64, got {self.image_size}")


@dataclass
class ImageFolderConfig(ImageConfig):
    root: str = ""
    image_size: int = 64
    channels: int = 3
    val_size: float = 0.2

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
    _target_: str = ""
    loss: str = "auto"
    input_shape: list[int] | None = None

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
    activation: str = "relu"
    dropout: float = 0.0
    batchnorm: bool = False
    bn_after_activation: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.activation, "activation", tuple(ACTIVATIONS))
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class MLPConfig(DenseConfig):
    hidden: int = 100
    activation: str = "sigmoid"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden >= 1, "hidden", f"must be >= 1, got {self.hidden}")


@dataclass
class DeepConfig(DenseConfig):
    hidden: list[int] = field(default_factory=lambda: [64, 64])

    def __post_init__(self) -> None:
        super().__post_init__()
        require(all(h >= 1 for h in self.hidden), "hidden",
                f"every size must be >= 1, got {list(self.hidden)}")


@dataclass
class CNNConfig(DenseConfig):
    channels: list[int] = field(default_factory=lambda: [16, 32])
    kernel_size: int = 5
    padding: int = 2
    stride: int = 1
    pool: str = "max"
    pool_size: int = 2
    pool_stride: int | None = None
    hidden: list[int] = field(default_factory=list)
    logit_batchnorm: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.channels) >= 1 and all(c >= 1 for c in self.channels), "channels",
                f"must be a non-empty list of sizes >= 1, got {list(self.channels)}")
        require(self.kernel_size >= 1, "kernel_size", f"must be >= 1, got {self.kernel_size}")
        require(self.padding >= 0, "padding", f"must be >= 0, got {self.padding}")
        require(self.stride >= 1, "stride", f"must be >= 1, got {self.stride}")
        one_of(self.pool, "pool", ("max", "avg", "none"))
        require(self.pool_size >= 1, "pool_size", f"must be >= 1, got {self.pool_size}")


MODEL_SCHEMAS: dict[str, type] = {
    "sweeplab.models.logistic.LogisticRegression": LogisticConfig,
    "sweeplab.models.softmax.SoftmaxRegression": SoftmaxConfig,
    "sweeplab.models.mlp.MLP": MLPConfig,
    "sweeplab.models.deep.DeepNet": DeepConfig,
    "sweeplab.models.cnn.SmallCNN": CNNConfig,
}

# ---------------------------------------------------------------- optimiser

SCHEDULERS = ("none", "step", "cosine", "exponential")


@dataclass
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.01
    weight_decay: float = 0.0
    scheduler: str = "none"
    step_size: int = 10
    gamma: float = 0.1

    def __post_init__(self) -> None:
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        one_of(self.scheduler, "scheduler", SCHEDULERS)
        require(self.step_size >= 1, "step_size", f"must be >= 1, got {self.step_size}")
        require(0 < self.gamma <= 1, "gamma", f"must be in (0, 1], got {self.gamma}")


@dataclass
class SGDConfig(OptimConfig):
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")
        require(not self.nesterov or self.momentum > 0, "nesterov", "needs momentum > 0")


@dataclass
class AdamConfig(OptimConfig):
    lr: float = 0.001
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas",
                f"must be two numbers in [0, 1), got {list(self.betas)}")


OPTIM_SCHEMAS: dict[str, type] = {"sgd": SGDConfig, "adam": AdamConfig}

# ---------------------------------------------------------------- init


@dataclass
class InitConfig:
    scheme: str = "default"
    bias: float | None = None


@dataclass
class DefaultInitConfig(InitConfig):
    pass


@dataclass
class UniformInitConfig(InitConfig):
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        require(self.high > self.low, "high", f"must be > low ({self.low})")


@dataclass
class NormalInitConfig(InitConfig):
    mean: float = 0.0
    std: float = 0.1

    def __post_init__(self) -> None:
        require(self.std > 0, "std", f"must be > 0, got {self.std}")


@dataclass
class XavierInitConfig(InitConfig):
    distribution: str = "uniform"
    gain: float = 1.0

    def __post_init__(self) -> None:
        one_of(self.distribution, "distribution", ("uniform", "normal"))
        require(self.gain > 0, "gain", f"must be > 0, got {self.gain}")


@dataclass
class HeInitConfig(InitConfig):
    distribution: str = "uniform"
    nonlinearity: str = "relu"

    def __post_init__(self) -> None:
        one_of(self.distribution, "distribution", ("uniform", "normal"))
        one_of(self.nonlinearity, "nonlinearity", ("relu", "leaky_relu"))


@dataclass
class ConstantInitConfig(InitConfig):
    weight: float = 1.0
    bias: float | None = 0.0


INIT_SCHEMAS: dict[str, type] = {
    "default": DefaultInitConfig, "uniform": UniformInitConfig, "normal": NormalInitConfig,
    "xavier": XavierInitConfig, "he": HeInitConfig, "constant": ConstantInitConfig,
}

# ---------------------------------------------------------------- trainer

PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "32", "16",
              "bf16", "64", "transformer-engine", "transformer-engine-float16")


@dataclass
class TrainerConfig:
    _target_: str = "lightning.pytorch.Trainer"
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: Any = "32-true"
    max_epochs: int = 10
    max_steps: int = -1
    min_epochs: int | None = None
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 50
    limit_train_batches: float | None = None
    limit_val_batches: float | None = None
    limit_test_batches: float | None = None
    fast_dev_run: bool = False
    deterministic: bool = False
    benchmark: bool | None = None
    enable_progress_bar: bool = True
    enable_model_summary: bool = False
    enable_checkpointing: bool = False
    num_sanity_val_steps: int = 0
    gradient_clip_val: float | None = None
    accumulate_grad_batches: int = 1
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        one_of(self.accelerator, "accelerator", ("auto", "cpu", "gpu", "cuda", "mps"))
        one_of(str(self.precision), "precision", PRECISIONS)
        require(self.max_epochs >= 1 or self.max_epochs == -1, "max_epochs",
                f"must be >= 1 (or -1 with max_steps), got {self.max_epochs}")
        require(self.max_steps >= 1 or self.max_steps == -1, "max_steps",
                f"must be >= 1, or -1 for no limit, got {self.max_steps}")
        require(self.max_epochs != -1 or self.max_steps != -1, "max_steps",
                "set max_steps when max_epochs is -1")
        require(self.log_every_n_steps >= 1, "log_every_n_steps",
                f"must be >= 1, got {self.log_every_n_steps}")
        require(self.check_val_every_n_epoch >= 1, "check_val_every_n_epoch",
                f"must be >= 1, got {self.check_val_every_n_epoch}")


# ---------------------------------------------------------------- top level


#: what a job can optimise and sort by (the metrics the task modules log at epoch end)
METRICS = ("val/acc", "val/acc_best", "val/loss", "val/loss_best", "train/loss", "train/acc",
           "test/acc", "test/loss")


@dataclass
class RunConfig:
    seed: int = 0
    threads: int = 0
    optimized_metric: str = "auto"
    test: bool = True
    task_name: str = "train"
    resume: bool = False
    eval_train: bool = False
    lab: str | None = None

    def __post_init__(self) -> None:
        one_of(self.optimized_metric, "optimized_metric", ("auto", *METRICS))
        require(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        require(self.threads >= 0, "threads", f"must be >= 0 (0 = automatic), got {self.threads}")
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


#: groups already checked in this process (a sweep checks each job's groups in the preflight and
#: again in train(), and most groups repeat across jobs; a structured merge costs ~2-5 ms)
_CHECKED: dict[tuple[str, type, str], Any] = {}


def check_group(group: str, node: dict, schema: type) -> Any:
    """Merge one group's plain dict into its schema; the typed object, or ConfigError."""
    key = (group, schema, json.dumps(node, sort_keys=True, default=repr))
    if key in _CHECKED:
        return copy.deepcopy(_CHECKED[key])
    typed = _check_group(group, node, schema)
    if len(_CHECKED) > 4096:
        _CHECKED.clear()
    _CHECKED[key] = copy.deepcopy(typed)
    return typed


def _check_group(group: str, node: dict, schema: type) -> Any:
    prefix = f"{group}." if group else ""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
        return OmegaConf.to_object(merged)
    except FieldError as exc:
        raise ConfigError(f"{prefix}{exc.key}: {exc}") from None
    except ConfigKeyError as exc:
        key = getattr(exc, "key", None) or str(exc).split("'")[1]
        raise ConfigError(f"{prefix}{key}: unknown key; allowed: "
                          f"{', '.join(allowed_keys(schema))}") from None
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


def validate(cfg: DictConfig) -> dict[str, Any]:
    """Check every group before training; returns the typed objects by group name."""
    def plain(group: str) -> dict:
        try:
            return OmegaConf.to_container(cfg[group], resolve=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{group}: {str(exc).splitlines()[0]}") from None

    typed: dict[str, Any] = {}
    for group, registry, by in (("data", DATA_SCHEMAS, "_target_"),
                                ("model", MODEL_SCHEMAS, "_target_"),
                                ("optim", OPTIM_SCHEMAS, "name"),
                                ("init", INIT_SCHEMAS, "scheme")):
        node = plain(group)
        typed[group] = check_group(group, node, _schema_for(group, node, registry, by))
    typed["trainer"] = check_group("trainer", plain("trainer"), TrainerConfig)
    top = {f.name: cfg[f.name] for f in fields(RunConfig) if f.name in cfg}
    typed["run"] = check_group("", top, RunConfig)
    return typed
