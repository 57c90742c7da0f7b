"""The ``hrnet-train`` command line the app runs: built once, shown to the user, run as is.

The flags are not written out here: each field of :class:`TrainCommand` names the *destination*
of an option of hrnet-train's own argument parser (``hrnet.build_train_parser``), and the option string comes
from that parser. A renamed flag therefore changes the app's command with it, and a flag that this
hrnet-train does not have is a clear :class:`UnsupportedOption` error, not a run that fails later.

The app runs ``sys.executable -m <train module> ARGS`` (works from the virtual environment without
PATH assumptions) and shows the equivalent ``hrnet-train ARGS``; both run the same code with the
same arguments, so a run started in the app can be reproduced from a terminal.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "STOP_FILE_NAME",
    "TrainCommand",
    "UnsupportedOption",
    "child_needs_pythonpath",
    "format_command",
    "supports_option",
    "train_module",
    "train_parser",
]

STOP_FILE_NAME = "STOP"  # created in the run folder to ask hrnet-train to stop after this epoch

_MODULES = ("hrnet.cli.train", "hrnet.train")  # the console script's module first


class UnsupportedOption(ValueError):
    """The installed hrnet-train has no option for this setting."""


def train_module() -> str:
    """The module behind the ``hrnet-train`` console script, run with ``python -m``."""
    for name in _MODULES:
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            continue
    return _MODULES[0]


@functools.cache
def train_parser() -> argparse.ArgumentParser:
    """hrnet-train's own argument parser (the single source of its flags)."""
    try:
        from hrnet import build_train_parser
    except ImportError as e:  # an hrnet without a public parser: no option is supported
        raise ImportError("this hrnet does not export hrnet-train's argument parser (build_train_parser); "
                          "update the hrnet package") from e
    return build_train_parser()


def _action(dest: str) -> argparse.Action:
    for action in train_parser()._actions:  # argparse's documented-in-practice action list
        if action.dest == dest and action.option_strings:
            return action
    raise UnsupportedOption(f"this hrnet-train has no option for '{dest}' (update the hrnet package)")


def supports_option(dest: str) -> bool:
    try:
        _action(dest)
    except (UnsupportedOption, ImportError):
        return False
    return True


def _flag(dest: str) -> str:
    """The option string of ``dest``: its first long form (``--output-dir``)."""
    strings = _action(dest).option_strings
    return next((s for s in strings if s.startswith("--")), strings[0])


def _option(dest: str, value: Any) -> list[str]:
    """``[flag]`` for a switch (store_true / store_const / an optional value at its const), else ``[flag, value]``."""
    action = _action(dest)
    flag = _flag(dest)
    if action.nargs == 0:  # store_true / store_const
        return [flag] if value else []
    if action.nargs == "?" and value == action.const:
        return [flag]
    if action.choices is not None and value not in action.choices:
        raise UnsupportedOption(f"{flag} {value!r}: hrnet-train accepts {', '.join(map(str, action.choices))}")
    return [flag, str(value)]


def format_command(argv: Sequence[str]) -> str:
    """A command line the user's shell reads back to ``argv`` (POSIX quoting; cmd.exe on Windows)."""
    argv = [str(a) for a in argv]
    if os.name == "nt":
        return subprocess.list2cmdline(argv)
    return shlex.join(argv)


@functools.cache
def child_needs_pythonpath() -> str | None:
    """The folder to put on the child's PYTHONPATH, or None when ``python -m`` already imports this hrnet.

    An installed app (wheel or editable install) needs nothing; a source checkout run as
    ``python main.py`` finds ``hrnet`` only through its script folder, which a child started in
    the run folder does not have. Asked of the child interpreter itself, once.
    """
    spec = importlib.util.find_spec("hrnet")  # where this process imports hrnet from (no import needed)
    if spec is None or not spec.origin:  # pragma: no cover - hrnet is part of this project
        return None
    mine = Path(spec.origin).resolve().parent
    root = str(mine.parent)
    probe = "import importlib.util as u; s = u.find_spec('hrnet'); print(s.origin if s else '')"
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                             cwd=os.path.expanduser("~"), check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return root
    if out and Path(out).resolve().parent == mine:
        return None
    return root


@dataclass
class TrainCommand:
    """Arguments of one ``hrnet-train`` invocation.

    ``opts`` are the official ``KEY VALUE`` overrides, in order (they come last, after the
    recipe, so they win). ``resume`` adds ``--resume`` (from ``output_dir/checkpoint.pth``) and
    then leaves out ``--weights``: the checkpoint holds the weights. ``finetune`` adds the
    fine-tuning recipe (``--finetune``). ``stop_file`` defaults to ``output_dir/STOP``.
    """

    experiment: str
    output_dir: Path
    weights: str | None = None
    device: str = "auto"
    opts: list[tuple[str, str]] = field(default_factory=list)
    resume: bool = False
    stop_file: Path | None = None
    progress: str = "jsonl"
    finetune: bool = False

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if self.stop_file is None:
            self.stop_file = self.output_dir / STOP_FILE_NAME
        self.stop_file = Path(self.stop_file)

    def args(self) -> list[str]:
        """Arguments after the program name (flags from hrnet-train's parser, then ``KEY VALUE`` pairs)."""
        out = _option("cfg", str(self.experiment)) + _option("device", self.device)
        out += _option("output_dir", str(self.output_dir))
        if self.resume:
            out += _option("resume", "")
        elif self.weights:
            out += _option("weights", str(self.weights))
        if self.finetune:
            out += _option("finetune", True)
        out += _option("progress", self.progress) + _option("stop_file", str(self.stop_file))
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
            finetune=self.finetune,
        )

    def program(self, python: str | None = None) -> tuple[str, list[str]]:
        """(program, arguments) for QProcess: the current interpreter running the train module."""
        return python or sys.executable, ["-u", "-m", train_module(), *self.args()]

    def display(self) -> str:
        """The equivalent terminal command, ``hrnet-train ...``, quoted for the user's shell."""
        return format_command(["hrnet-train", *self.args()])
