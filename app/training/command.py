"""The ``hrnet-train`` command line the app runs: built once, shown to the user, run as is.

The app runs ``sys.executable -m <train module> ARGS`` (works from the virtual environment without
PATH assumptions) and shows the equivalent ``hrnet-train ARGS``; both run the same code with the
same arguments, so a run started in the app can be reproduced from a terminal.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["STOP_FILE_NAME", "TrainCommand", "format_command", "train_module"]

STOP_FILE_NAME = "STOP"  # created in the run folder to ask hrnet-train to stop after this epoch


def train_module() -> str:
    """The module behind the ``hrnet-train`` console script, run with ``python -m``."""
    for name in ("hrnet.train", "hrnet.cli.train"):
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            continue
    return "hrnet.cli.train"


def format_command(argv: Sequence[str]) -> str:
    """A command line the user's shell reads back to ``argv`` (POSIX quoting; cmd.exe on Windows)."""
    argv = [str(a) for a in argv]
    if os.name == "nt":
        return subprocess.list2cmdline(argv)
    return shlex.join(argv)


@dataclass
class TrainCommand:
    """Arguments of one ``hrnet-train`` invocation.

    ``opts`` are the official ``KEY VALUE`` overrides, in order. ``resume`` adds ``--resume``
    (from ``output_dir/checkpoint.pth``) and then leaves out ``--weights``: the checkpoint holds
    the weights. ``stop_file`` defaults to ``output_dir/STOP``.
    """

    experiment: str
    output_dir: Path
    weights: str | None = None
    device: str = "auto"
    opts: list[tuple[str, str]] = field(default_factory=list)
    resume: bool = False
    stop_file: Path | None = None
    progress: str = "jsonl"

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if self.stop_file is None:
            self.stop_file = self.output_dir / STOP_FILE_NAME
        self.stop_file = Path(self.stop_file)

    def args(self) -> list[str]:
        """Arguments after the program name."""
        out = ["--cfg", str(self.experiment), "--device", self.device, "--output-dir", str(self.output_dir)]
        if self.resume:
            out.append("--resume")
        elif self.weights:
            out += ["--weights", str(self.weights)]
        out += ["--progress", self.progress, "--stop-file", str(self.stop_file)]
        for key, value in self.opts:  # positional KEY VALUE pairs, as the official tools/train.py
            out += [str(key), str(value)]
        return out

    def resumed(self) -> TrainCommand:
        """The same run, continued from its last checkpoint."""
        return TrainCommand(
            experiment=self.experiment,
            output_dir=self.output_dir,
            weights=self.weights,
            device=self.device,
            opts=list(self.opts),
            resume=True,
            stop_file=self.stop_file,
            progress=self.progress,
        )

    def program(self, python: str | None = None) -> tuple[str, list[str]]:
        """(program, arguments) for QProcess: the current interpreter running the train module."""
        return python or sys.executable, ["-u", "-m", train_module(), *self.args()]

    def display(self) -> str:
        """The equivalent terminal command, ``hrnet-train ...``, quoted for the user's shell."""
        return format_command(["hrnet-train", *self.args()])
