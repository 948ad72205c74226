"""How a stack is run: one validated model shared by :func:`~batchtrack.batch.run.run_stack`,
the command line and the window."""

from __future__ import annotations

import concurrent.futures as cf
from contextlib import AbstractContextManager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ParameterError
from .executors import BACKENDS

__all__ = ["RunOptions"]


class RunOptions(BaseModel):
    """Where and how a stack runs; unknown names and bad values are refused at once.

    Attributes
    ----------
    backend : {"inprocess", "local", "dask"}
        ``inprocess``: one thread of this process; ``local``: worker processes; ``dask``: a
        Dask cluster (implied by ``scheduler`` or ``jobqueue``).
    workers : int, optional
        Local processes (default: every core); for a job-queue cluster, jobs to start.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``).
    jobqueue : {"slurm", "pbs", "sge", "lsf"}, optional
        Start the Dask workers as batch jobs through dask-jobqueue.
    jobqueue_options : dict
        Options of those jobs (``cores``, ``memory``, ``walltime``…).
    force : bool
        Redo entries whose finished result matches (otherwise they are Skipped).
    shard : (k, N), optional
        Run only entries k, k+N, k+2N… (1-based); ``"k/N"`` is accepted.
    chunk_size : int
        Frames per detection task: a long movie is split so that it uses every worker.
    tls : dict
        For a ``tls://`` scheduler: ``ca_file``, ``cert`` and ``key`` (PEM files, as Dask's
        ``--tls-ca-file``, ``--tls-cert``, ``--tls-key``).

    Examples
    --------
    >>> RunOptions(workers=2, shard="2/4").shard
    (2, 4)
    >>> RunOptions(workers=-3)
    Traceback (most recent call last):
    ...
    batchtrack.errors.ParameterError: workers = -3 is invalid: ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["inprocess", "local", "dask"] = "local"
    workers: int | None = Field(None, ge=1)
    scheduler: str | None = None
    jobqueue: Literal["slurm", "pbs", "sge", "lsf"] | None = None
    jobqueue_options: dict[str, Any] = Field(default_factory=dict)
    force: bool = False
    shard: tuple[int, int] | None = None
    chunk_size: int = Field(500, ge=1)
    tls: dict[str, str] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ParameterError(_explain(error)) from None

    @field_validator("shard", mode="before")
    @classmethod
    def _parse_shard(cls, value: Any) -> Any:
        from .shards import parse_shard

        return parse_shard(value) if isinstance(value, str) else value

    @field_validator("tls")
    @classmethod
    def _check_tls(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"ca_file", "cert", "key"})
        if unknown:
            raise ValueError(f"unknown TLS option {', '.join(unknown)}: use ca_file, cert, key")
        return value

    @property
    def executor_backend(self) -> str:
        """The backend actually used: ``dask`` whenever a scheduler or job queue is given."""
        return "dask" if self.scheduler or self.jobqueue else self.backend

    def open_executor(self) -> AbstractContextManager[cf.Executor]:
        """The executor these options ask for, shut down on exit
        (:func:`batchtrack.batch.executors.open_executor`)."""
        from .executors import open_executor

        return open_executor(
            self.executor_backend,
            workers=self.workers,
            scheduler=self.scheduler,
            jobqueue=self.jobqueue,
            jobqueue_options=self.jobqueue_options,
            tls=dict(self.tls),
        )


def _explain(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "options"
        if item["type"] == "extra_forbidden":
            known = ", ".join(RunOptions.model_fields)
            problems.append(f"unknown run option {name!r} (known: {known})")
        elif name == "backend":
            problems.append(f"backend must be one of {', '.join(BACKENDS)}, got {item['input']!r}")
        else:
            problems.append(f"{name} = {item['input']!r} is invalid: {item['msg'].lower()}")
    return "; ".join(problems)
