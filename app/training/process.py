"""Run ``hrnet-train`` out of process and turn its JSON-lines progress into typed Qt signals.

:class:`TrainingProcess` wraps a :class:`QProcess`: the GUI stays responsive and a crash of
training (out of memory, a segfault, a bug) cannot take the app down. Every outcome ends in exactly
one ``finished`` signal, and every failure in an ``error`` signal whose message is the real reason
(the ``error`` event of hrnet-train, or the tail of its crash output), never "see the terminal".

- ``stop()`` creates the ``--stop-file``: hrnet-train finishes the current epoch (validation and
  checkpoint included) and exits with status ``stopped``.
- ``cancel()`` terminates the process, and kills it if it is still running after
  ``kill_timeout_ms``. The last checkpoint written survives.
- Resume = ``start(command.resumed())`` (``--resume`` from the run folder's checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections import Counter, deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from app.training.command import TrainCommand, child_needs_pythonpath
from app.training.events import (
    BaseValidated,
    CheckpointWritten,
    EpochEnded,
    LogMessage,
    RunFinished,
    RunStarted,
    StepProgress,
    TrainError,
    parse_event,
)

__all__ = ["Launcher", "TrainingProcess"]

log = logging.getLogger(__name__)

Launcher = Callable[[TrainCommand], tuple[str, list[str]]]

_TAIL_LINES = 25


class TrainingProcess(QObject):
    """One ``hrnet-train`` run at a time, as a child process with typed progress signals.

    Signals carry the dataclasses of :mod:`app.training.events`:
    ``started(RunStarted)``, ``step(StepProgress)``, ``epoch_ended(EpochEnded)``,
    ``base_validated(BaseValidated)`` (the starting weights before any update, with ``--finetune``),
    ``checkpoint_written(CheckpointWritten)``, ``log(level: str, message: str)``,
    ``error(TrainError)``, ``finished(RunFinished)`` and ``state_changed(str)`` with one of
    ``idle``, ``running``, ``stopping``, ``cancelling``, ``finished``.
    """

    started = Signal(object)
    base_validated = Signal(object)
    step = Signal(object)
    epoch_ended = Signal(object)
    checkpoint_written = Signal(object)
    log = Signal(str, str)
    error = Signal(object)
    finished = Signal(object)
    state_changed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        launcher: Launcher | None = None,
        kill_timeout_ms: int = 5000,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self._launcher: Launcher = launcher or (lambda cmd: cmd.program())
        self.kill_timeout_ms = kill_timeout_ms
        self._extra_env = dict(extra_env or {})
        self._process: QProcess | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)
        self._state = "idle"
        self._reset_run()

    # ----------------------------------------------------------------------------- state
    def _reset_run(self) -> None:
        self.command: TrainCommand | None = None
        self.run_started: RunStarted | None = None
        self.base_validation: BaseValidated | None = None
        self.epochs: list[EpochEnded] = []
        self.last_checkpoint: CheckpointWritten | None = None
        self.errors: list[TrainError] = []
        self.result: RunFinished | None = None
        self._end: RunFinished | None = None
        self._stdout_buf = b""
        self._stderr_buf = b""
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        # hrnet-train --progress jsonl reports each log record twice: as a JSON "log" event and as a
        # plain line on stderr (for a terminal). Each one shown cancels one identical line of the other.
        self._shown_from: dict[str, Counter[str]] = {"event": Counter(), "stderr": Counter()}
        self._cancel_requested = False
        self._killed = False
        self._done = False

    @property
    def state(self) -> str:
        return self._state

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def is_running(self) -> bool:
        return self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning

    def process_id(self) -> int:
        return int(self._process.processId()) if self._process is not None else 0

    # ----------------------------------------------------------------------------- control
    def start(self, command: TrainCommand) -> None:
        """Start ``command`` (creates its output folder, clears a stale stop file)."""
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self._reset_run()
        self.command = command
        try:
            command.output_dir.mkdir(parents=True, exist_ok=True)
            if command.stop_file is not None and command.stop_file.exists():
                command.stop_file.unlink()
        except OSError as e:
            self._fail_to_start(f"Cannot prepare the run folder {command.output_dir}: {e.strerror or e}")
            return
        program, args = self._launcher(command)
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        root = child_needs_pythonpath()  # only a source checkout run without installing needs it
        if root:
            old = env.value("PYTHONPATH", "")
            env.insert("PYTHONPATH", root + (os.pathsep + old if old else ""))
        for k, v in self._extra_env.items():
            env.insert(k, v)
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(command.output_dir))
        proc.setProgram(program)
        proc.setArguments(args)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.errorOccurred.connect(self._on_error)
        proc.finished.connect(self._on_finished)
        self._process = proc
        log.info("starting training: %s %s", program, " ".join(args))
        self._set_state("running")
        self.log.emit("info", f"$ {command.display()}")
        proc.start()

    def stop(self) -> bool:
        """Ask hrnet-train to stop after the current epoch (keeps its checkpoint). False if not running."""
        if not self.is_running() or self.command is None or self.command.stop_file is None:
            return False
        try:
            self.command.stop_file.parent.mkdir(parents=True, exist_ok=True)
            self.command.stop_file.write_text("stop requested by the app\n", encoding="utf-8")
        except OSError as e:
            self.log.emit("warning", f"Could not create the stop file {self.command.stop_file}: {e}")
            return False
        self.log.emit("info", "Stop requested: training finishes the current epoch, saves the checkpoint and exits.")
        if self._state == "running":
            self._set_state("stopping")
        return True

    def cancel(self) -> bool:
        """Terminate the process now; kill it if it still runs after ``kill_timeout_ms``."""
        if not self.is_running():
            return False
        self._cancel_requested = True
        self._set_state("cancelling")
        self.log.emit("info", "Cancel requested: terminating the training process.")
        assert self._process is not None
        self._process.terminate()
        self._kill_timer.start(max(0, self.kill_timeout_ms))
        return True

    def _kill(self) -> None:
        if self.is_running():
            assert self._process is not None
            self._killed = True
            self.log.emit("warning", f"Training did not exit within {self.kill_timeout_ms / 1000:g} s; killing it.")
            self._process.kill()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Blocking end of a running process (for application exit): terminate, wait, kill."""
        if not self.is_running():
            return
        assert self._process is not None
        self._cancel_requested = True
        self._process.terminate()
        if not self._process.waitForFinished(timeout_ms):
            self._killed = True
            self._process.kill()
            self._process.waitForFinished(timeout_ms)

    # ----------------------------------------------------------------------------- output
    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._stdout_buf += bytes(self._process.readAllStandardOutput().data())
        *lines, self._stdout_buf = self._stdout_buf.split(b"\n")
        for line in lines:
            self._handle_stdout_line(line)

    def _read_stderr(self) -> None:
        if self._process is None:
            return
        self._stderr_buf += bytes(self._process.readAllStandardError().data())
        *lines, self._stderr_buf = self._stderr_buf.split(b"\n")
        for line in lines:
            self._handle_stderr_line(line)

    def _handle_stderr_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not text.strip():
            return
        self._tail.append(text)
        if self._first_of_pair("stderr", text.strip()):
            self.log.emit("stderr", text)

    def _first_of_pair(self, channel: str, message: str) -> bool:
        """True when ``message`` has not been shown yet from the other channel (see ``_shown_from``)."""
        other = self._shown_from["stderr" if channel == "event" else "event"]
        if other[message] > 0:
            other[message] -= 1
            if not other[message]:
                del other[message]
            return False
        mine = self._shown_from[channel]
        if len(mine) > 1000:  # a channel the other never echoes (bar mode, a library's chatter)
            mine.clear()
        mine[message] += 1
        return True

    def _handle_stdout_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return
        event = None
        if text.startswith("{"):
            try:
                event = parse_event(json.loads(text))
            except (json.JSONDecodeError, RecursionError):
                event = None
        if event is None:
            self._tail.append(text)
            self.log.emit("stdout", text)
            return
        self._dispatch(event)

    def _dispatch(self, event: object) -> None:
        if isinstance(event, StepProgress):
            self.step.emit(event)
        elif isinstance(event, EpochEnded):
            self.epochs.append(event)
            self.epoch_ended.emit(event)
        elif isinstance(event, CheckpointWritten):
            self.last_checkpoint = event
            self.checkpoint_written.emit(event)
        elif isinstance(event, LogMessage):
            if self._first_of_pair("event", event.message.strip()):
                self.log.emit(event.level, event.message)
        elif isinstance(event, TrainError):
            self.errors.append(event)
            self.log.emit("error", f"{event.kind}: {event.message}")
            self.error.emit(event)
        elif isinstance(event, BaseValidated):
            self.base_validation = event
            self.base_validated.emit(event)
        elif isinstance(event, RunStarted):
            self.run_started = event
            self.started.emit(event)
        elif isinstance(event, RunFinished):
            self._end = event

    # ----------------------------------------------------------------------------- end of the run
    def _on_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart and self._process is not None:
            program = self._process.program()
            self._fail_to_start(f"Could not start {program}: {self._process.errorString()}")

    def _fail_to_start(self, message: str) -> None:
        if self._done:
            return
        self._done = True
        err = TrainError("start", message)
        self.errors.append(err)
        self.log.emit("error", message)
        self.error.emit(err)
        self._finish(RunFinished(status="failed"))

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._done:
            return
        self._done = True
        self._kill_timer.stop()
        if self._process is not None:  # data not yet delivered by readyRead, then partial last lines
            self._read_stdout()
            self._read_stderr()
        if self._stdout_buf:
            self._handle_stdout_line(self._stdout_buf)
            self._stdout_buf = b""
        if self._stderr_buf:
            self._handle_stderr_line(self._stderr_buf)
            self._stderr_buf = b""
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        code = None if crashed else int(exit_code)
        end = self._end
        if end is not None:
            result = dataclasses.replace(end, exit_code=code, ended_cleanly=True)
            if code not in (0, None) and end.ok:
                self.log.emit("warning", f"hrnet-train reported '{end.status}' but exited with code {code}.")
            if end.status not in ("completed", "stopped") and not self.errors:
                self._emit_crash(f"Training ended with status '{end.status}'.")
        elif self._cancel_requested:
            how = "killed" if self._killed else "terminated"
            self.log.emit("info", f"Training was cancelled (process {how}).")
            result = self._partial_result("cancelled", code)
        else:
            if crashed:
                summary = "The training process crashed (killed by a signal or a fatal error)."
            elif code == 0:
                summary = "The training process exited without reporting the end of the run."
            else:
                summary = f"The training process exited with code {code} without finishing the run."
            if not self.errors or crashed:
                self._emit_crash(summary)
            result = self._partial_result("failed", code)
        self._finish(result)

    def _partial_result(self, status: str, code: int | None) -> RunFinished:
        best = [e for e in self.epochs if e.best_metric is not None]
        ckpt = self.last_checkpoint
        return RunFinished(
            status=status,
            epochs_done=len(self.epochs),
            best_metric=best[-1].best_metric if best else None,
            best_path=ckpt.best_path if ckpt else None,
            final_path=None,
            exit_code=code,
            ended_cleanly=False,
        )

    def _emit_crash(self, summary: str) -> None:
        tail = "\n".join(self._tail)
        reason = _last_exception_line(list(self._tail))
        message = summary
        if reason:
            message += f"\n{reason}"
        if tail:
            message += f"\n\nLast output:\n{tail}"
        err = TrainError("crash", message)
        self.errors.append(err)
        self.log.emit("error", summary + (f" {reason}" if reason else ""))
        self.error.emit(err)

    def _finish(self, result: RunFinished) -> None:
        self.result = result
        self._set_state("finished")
        self.finished.emit(result)


def _last_exception_line(lines: list[str]) -> str:
    """``ValueError: ...`` from a Python traceback in ``lines``, else ''."""
    for line in reversed(lines):
        s = line.strip()
        if not s or s.startswith(("File ", "^", "~")) or line.startswith(" "):
            continue
        head = s.split(":", 1)[0]
        exceptional = head.endswith(("Error", "Exception", "Interrupt", "Exit")) or head == "Killed"
        if head and exceptional and " " not in head:
            return s
    return ""
