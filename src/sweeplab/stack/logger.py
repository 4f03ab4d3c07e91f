"""Each member of a stack writes to its own job's loggers, under the names a job alone uses.

The stack logs member i's metrics as `<i>/<name>` (`3/val/acc`); `MemberLogger` wraps one of
member i's loggers (TensorBoard, CSV, ...) and passes on only that member's metrics, renamed
back (`val/acc`), at the same steps. Lightning's Logger API is the extension point.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger


def member_key(i: int, name: str) -> str:
    return f"{i}/{name}"


def member_metrics(metrics: dict[str, Any], i: int) -> dict[str, Any]:
    """Member i's entries of a stack's metrics, under their own names."""
    prefix = member_key(i, "")
    return {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}


class MemberLogger(Logger):
    def __init__(self, member: int, logger: Logger) -> None:
        super().__init__()
        self.member, self.logger = member, logger

    @property
    def name(self) -> str | None:
        return self.logger.name

    @property
    def version(self) -> int | str | None:
        return self.logger.version

    @property
    def save_dir(self) -> str | None:
        return self.logger.save_dir

    @property
    def log_dir(self) -> str | None:
        return getattr(self.logger, "log_dir", None)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        own = member_metrics(metrics, self.member)
        if own:
            if "epoch" in metrics:
                own["epoch"] = metrics["epoch"]
            self.logger.log_metrics(own, step)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """The stack's own hyperparameters are not the member's: each member logs its own."""

    def save(self) -> None:
        self.logger.save()

    def finalize(self, status: str) -> None:
        self.logger.finalize(status)
