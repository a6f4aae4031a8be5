"""The `digest` command line (click only): the frame (global options, errors -> exit codes)
in ``frame.py``, and the commands, each a small function that builds the run's App and
calls ``commands.<verb>.run``, in ``edition.py``, ``folder.py`` and ``running.py``.

Each command imports its module when it runs, not here: the render stage takes 0.4 s
to import, which `digest --help` should not pay, and `digest send` starts reading
subscribers.csv in a child process before it. A new command is a module in
``commands/`` and one function in ``edition.py``, ``folder.py`` or ``running.py``.
"""

from __future__ import annotations

import gc

from . import edition, folder, running  # noqa: F401  (they add their commands to ``cli``)
from .frame import cli

__all__ = ["cli", "main"]


def main() -> None:
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's way, which otherwise rescans it again and again while a large send
    # allocates (measured: about a quarter of the CPU time of a 100k send).
    gc.freeze()
    cli(prog_name="digest")
