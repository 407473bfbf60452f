"""Scale-out on a Dask distributed cluster (optional: ``pip install afsim[dask]``).

The same chunks of replicates as a local run, submitted to the cluster's workers instead of a
local process pool: chunk boundaries and replicate seeds do not depend on where a chunk runs, so
the results are identical to a local run with the same seed. The model is scattered to the
workers once; each task carries only its chunk's parameter rows.

Pointing at a cluster: start a scheduler (``dask scheduler``) and workers (``dask worker
tcp://HOST:8786``) on the machines, then ``afsim run ... --scheduler tcp://HOST:8786``; or, from
Python, ``sim.run(..., scheduler="tcp://HOST:8786")``. Workers need the same afsim version.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from .chunks import run_job
from .errors import UserError


def _client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise UserError("Dask is not installed; install it with: pip install 'afsim[dask]'",
                        argument="scheduler") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(f"cannot reach the Dask scheduler at {address!r} ({exc})",
                        argument="scheduler") from None


def map_chunks_dask(address: str, model, jobs: Sequence[tuple]) -> Iterator:
    """Run the jobs on the cluster, yielding their results in job order."""
    client = _client(address)
    try:
        remote_model = client.scatter(model, broadcast=True)
        futures = [client.submit(run_job, remote_model, job, pure=False) for job in jobs]
        for fut in futures:
            yield fut.result()
    finally:
        client.close()
