from __future__ import annotations

import pytest

from batchtrack.batch.options import RunOptions
from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack
from batchtrack.errors import ParameterError


def test_defaults_and_shard_text() -> None:
    options = RunOptions(shard="2/4")
    assert (options.backend, options.workers, options.chunk_size) == ("local", None, 500)
    assert options.shard == (2, 4)
    assert RunOptions(scheduler="tcp://h:8786").executor_backend == "dask"
    assert RunOptions(jobqueue="slurm").executor_backend == "dask"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"workers": -3}, r"workers = -3 is invalid: input should be greater than or equal to 1"),
        ({"chunk_size": 0}, r"chunk_size = 0 is invalid"),
        ({"backend": "threads"}, r"backend must be one of inprocess, local, dask, got 'threads'"),
        ({"shard": "5/4"}, r"shard must be k/N with 1 ≤ k ≤ N"),
        ({"jobqueue": "condor"}, r"jobqueue = 'condor' is invalid"),
        ({"wrokers": 2}, r"unknown run option 'wrokers'"),
    ],
)
def test_bad_values_are_refused_with_the_name_and_value(values: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        RunOptions(**values)


def test_run_stack_validates_its_keywords_before_running() -> None:
    with pytest.raises(ParameterError, match="workers = 0"):
        run_stack(Stack(), workers=0)
