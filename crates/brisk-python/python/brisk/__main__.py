"""``python -m brisk worker tcp://HOST:8786``: a Brisk worker that runs Python tasks."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m brisk")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run a worker of a Brisk scheduler in this process")
    w.add_argument("scheduler", help="the scheduler's address, tcp://HOST:8786")
    w.add_argument("--nthreads", type=int, default=None, help="task threads (default: cores)")
    w.add_argument("--name", default=None)
    w.add_argument("--memory-limit", default=None, help="4GB, 512MiB, ... (default: none)")
    w.add_argument("--listen-host", default=None, help="host to listen on for peers")
    w.add_argument("--death-timeout", type=float, default=60.0,
                   help="seconds without the scheduler before giving up")
    w.add_argument("--preload", action="append", default=None,
                   help="modules to import before running tasks (default: the Dask collections)")
    args = parser.parse_args(argv)
    import importlib

    from brisk import _brisk

    # Tasks import what their functions need as they are unpickled; importing the usual
    # packages first keeps tasks from meeting them half-imported on another thread.
    preload = args.preload if args.preload is not None else [
        "dask.array", "dask.dataframe", "dask.bag",
    ]
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            if args.preload is not None:
                raise

    try:
        _brisk.run_worker(
            args.scheduler,
            nthreads=args.nthreads,
            name=args.name or f"python-worker-{os.getpid()}",
            memory_limit=args.memory_limit,
            listen_host=args.listen_host,
            death_timeout=args.death_timeout,
        )
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
