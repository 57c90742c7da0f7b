"""TrainingProcess against a fake ``hrnet-train``: protocol parsing, stop, cancel, resume and every
error path (error events, crashes, non-JSON output, failure to start), fast and deterministic."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from app.training.command import TrainCommand, format_command
from app.training.events import (
    CheckpointWritten,
    EpochEnded,
    RunFinished,
    RunStarted,
    StepProgress,
    TrainError,
    parse_event,
)
from app.training.process import TrainingProcess, _last_exception_line

# A stand-in for hrnet-train: same arguments, same JSON-lines protocol, behaviour picked by FAKE_MODE.
FAKE_TRAIN = textwrap.dedent(
    r'''
    import argparse, json, os, signal, sys, time
    from pathlib import Path

    p = argparse.ArgumentParser()
    p.add_argument("--cfg"); p.add_argument("--device"); p.add_argument("--output-dir")
    p.add_argument("--weights"); p.add_argument("--resume", nargs="?", const="")
    p.add_argument("--progress"); p.add_argument("--stop-file"); p.add_argument("--finetune", action="store_true")
    p.add_argument("opts", nargs=argparse.REMAINDER)
    a = p.parse_args()
    mode = os.environ.get("FAKE_MODE", "normal")
    epochs = int(os.environ.get("FAKE_EPOCHS", "3"))
    steps = 4
    delay = float(os.environ.get("FAKE_DELAY", "0"))
    run = Path(a.output_dir)
    ckpt = run / "checkpoint.json"

    def emit(**obj):
        sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()

    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    begin = json.loads(ckpt.read_text())["epoch"] + 1 if a.resume is not None and ckpt.exists() else 0
    (run / "argv.json").write_text(json.dumps(sys.argv[1:]))
    emit(event="start", run_dir=str(run), begin_epoch=begin, end_epoch=epochs, steps_per_epoch=steps,
         train_samples=8, val_samples=2, device="cpu", command="hrnet-train ...")
    if a.finetune:  # the recipe validates the starting weights first
        emit(event="base_validation", metrics={"AP": 0.05, "PCK": 0.1}, val_loss=0.9, metric_name="AP",
             metric=0.05, time_s=0.1)
    if mode == "error_event":
        emit(event="error", kind="oom", message="CUDA out of memory. Tried to allocate 2.00 GiB")
        emit(event="end", status="failed", epochs_done=0, best_metric=None, best_path=None, final_path=None)
        sys.exit(1)
    if mode == "crash":
        print("Traceback (most recent call last):", file=sys.stderr)
        print('  File "train.py", line 3, in <module>', file=sys.stderr)
        print("ValueError: image 7 has no keypoints", file=sys.stderr)
        sys.exit(3)
    if mode == "garbage":
        print("Hello from a print() in someone's code")
        print('{"event": "step", "epoch": 0, "step": 1')  # truncated JSON
        print('{"not_an_event": 1}')
        print('{"event": "future_event", "x": 1}')
        sys.stdout.flush()
    if mode == "split_line":
        line = json.dumps(dict(event="log", level="info", message="split across writes"))
        sys.stdout.write(line[:10]); sys.stdout.flush(); time.sleep(0.3)
        sys.stdout.write(line[10:] + "\n"); sys.stdout.flush()
    if mode == "echo":  # hrnet-train's jsonl mode: each log record as an event AND as a stderr line
        for msg in ("Resumed from ckpt: next epoch 2", "Stopping after epoch 1", "Stopping after epoch 1"):
            emit(event="log", level="info", message=msg)
            print(msg, file=sys.stderr); sys.stderr.flush()
        print("only on stderr", file=sys.stderr); sys.stderr.flush()
    if mode == "segfault":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode in ("hang", "ignore_term"):
        emit(event="log", level="info", message="hanging")
        while True:
            time.sleep(0.05)
    best = None
    for epoch in range(begin, epochs):
        for s in range(steps):
            emit(event="step", epoch=epoch, step=s + 1, steps=steps, loss=1.0 / (epoch * steps + s + 1),
                 lr=0.001, images_per_s=10.0, eta_s=1.5)
            time.sleep(delay)
        ap = 0.1 * (epoch + 1)
        is_best = best is None or ap > best
        best = ap if is_best else best
        emit(event="epoch_end", epoch=epoch, train_loss=0.5 / (epoch + 1), val_loss=None,
             metrics={"AP": ap, "PCK": 0.2 * (epoch + 1)}, best_metric=best, is_best=is_best, time_s=0.1)
        ckpt.write_text(json.dumps({"epoch": epoch}))
        emit(event="checkpoint", epoch=epoch, path=str(ckpt), best_path=str(run / "model_best.pth"))
        if a.stop_file and Path(a.stop_file).exists():
            emit(event="end", status="stopped", epochs_done=epoch + 1, best_metric=best,
                 best_path=str(run / "model_best.pth"), final_path=None)
            sys.exit(0)
    if mode == "no_end":
        sys.exit(0)
    emit(event="end", status="completed", epochs_done=epochs, best_metric=best,
         best_path=str(run / "model_best.pth"), final_path=str(run / "final_state.pth"))
    '''
)


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    path = tmp_path / "fake_hrnet_train.py"
    path.write_text(FAKE_TRAIN)
    return path


_LIVE: list[TrainingProcess] = []


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    yield
    while _LIVE:
        _LIVE.pop().shutdown(1000)


def make_process(qtbot, fake: Path, mode: str = "normal", **env: str) -> TrainingProcess:
    env = {"FAKE_MODE": mode, **env}
    proc = TrainingProcess(
        launcher=lambda cmd: (sys.executable, [str(fake), *cmd.args()]), kill_timeout_ms=500, extra_env=env
    )
    _LIVE.append(proc)
    return proc


class Recorder:
    def __init__(self, proc: TrainingProcess) -> None:
        self.events: list[object] = []
        self.logs: list[tuple[str, str]] = []
        self.states: list[str] = []
        for sig in (proc.started, proc.step, proc.epoch_ended, proc.checkpoint_written, proc.error, proc.finished):
            sig.connect(self.events.append)
        proc.log.connect(lambda level, msg: self.logs.append((level, msg)))
        proc.state_changed.connect(self.states.append)

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def result(self) -> RunFinished:
        (res,) = self.of(RunFinished)
        return res


def run_to_end(qtbot, proc: TrainingProcess, cmd: TrainCommand, timeout: int = 20000) -> None:
    with qtbot.waitSignal(proc.finished, timeout=timeout):
        proc.start(cmd)


def test_command_line_is_reproducible(tmp_path: Path) -> None:
    cmd = TrainCommand("synthetic/hrnet_w16_128x96", tmp_path / "run 1", weights="/w/model best.pth",
                       device="cpu", opts=[("TRAIN.END_EPOCH", "2"), ("MODEL.PRETRAINED", "")])
    args = cmd.args()
    assert args[:2] == ["--cfg", "synthetic/hrnet_w16_128x96"]
    assert args[args.index("--weights") + 1] == "/w/model best.pth"
    assert args[args.index("--progress") + 1] == "jsonl"
    assert args[args.index("--stop-file") + 1] == str(tmp_path / "run 1" / "STOP")
    assert args[-4:] == ["TRAIN.END_EPOCH", "2", "MODEL.PRETRAINED", ""]
    text = cmd.display()
    assert text.startswith("hrnet-train --cfg synthetic/hrnet_w16_128x96")
    if sys.platform != "win32":
        import shlex

        assert shlex.split(text) == ["hrnet-train", *args]  # copy-paste gives the same argv
    resumed = cmd.resumed()
    assert "--resume" in resumed.args() and "--weights" not in resumed.args()
    program, pargs = cmd.program()
    assert program == sys.executable and pargs[:2] == ["-u", "-m"] and pargs[3:] == args
    assert format_command(["a b", "c"]) in ("'a b' c", '"a b" c')


def test_parse_event_is_tolerant() -> None:
    assert parse_event({"event": "nope"}) is None
    assert parse_event([1, 2]) is None
    step = parse_event({"event": "step", "epoch": "1", "step": 2, "steps": 3, "loss": None})
    assert isinstance(step, StepProgress) and step.epoch == 1 and step.loss != step.loss  # NaN
    ep = parse_event({"event": "epoch_end", "epoch": 0, "metrics": {"AP": 0.5, "PCK": "x", "AR": float("nan")}})
    assert isinstance(ep, EpochEnded) and ep.metrics == {"AP": 0.5} and ep.val_loss is None
    end = parse_event({"event": "end", "status": "stopped", "best_path": ""})
    assert isinstance(end, RunFinished) and end.ok and end.best_path is None and end.ended_cleanly


def test_full_run_parses_every_event(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake)
    rec = Recorder(proc)
    cmd = TrainCommand("exp.yaml", tmp_path / "run", weights="w.pth", opts=[("TRAIN.LR", "0.01")])
    run_to_end(qtbot, proc, cmd)
    (start,) = rec.of(RunStarted)
    assert start.end_epoch == 3 and start.steps_per_epoch == 4 and start.device == "cpu"
    assert len(rec.of(StepProgress)) == 12
    epochs = rec.of(EpochEnded)
    assert [e.epoch for e in epochs] == [0, 1, 2] and epochs[-1].metrics["AP"] == pytest.approx(0.3)
    assert len(rec.of(CheckpointWritten)) == 3
    assert not rec.of(TrainError)
    res = rec.result
    assert res.status == "completed" and res.ok and res.exit_code == 0 and res.ended_cleanly
    assert res.best_path.endswith("model_best.pth") and res.epochs_done == 3
    assert rec.states == ["running", "finished"] and proc.state == "finished" and not proc.is_running()
    # the child got exactly the arguments of the displayed command
    assert json.loads((tmp_path / "run" / "argv.json").read_text()) == cmd.args()
    assert any(msg.startswith("$ hrnet-train --cfg exp.yaml") for _, msg in rec.logs)
    assert rec.events.index(start) == 0 and rec.events[-1] is res


def test_stop_finishes_epoch_and_resume_continues(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, FAKE_DELAY="0.05", FAKE_EPOCHS="4")
    rec = Recorder(proc)
    cmd = TrainCommand("exp.yaml", tmp_path / "run")
    proc.start(cmd)
    qtbot.waitUntil(lambda: bool(rec.of(StepProgress)), timeout=10000)
    assert proc.stop() and proc.state == "stopping"
    qtbot.waitUntil(lambda: bool(rec.of(RunFinished)), timeout=10000)
    res = rec.result
    assert res.status == "stopped" and res.ok and res.epochs_done == 1
    assert [e.epoch for e in rec.of(EpochEnded)] == [0]  # the current epoch was finished, incl. checkpoint
    assert (tmp_path / "run" / "checkpoint.json").exists()

    rec2 = Recorder(proc)
    run_to_end(qtbot, proc, cmd.resumed())  # the stale stop file is cleared at start
    assert not (tmp_path / "run" / "STOP").exists()
    assert rec2.of(RunStarted)[0].begin_epoch == 1
    assert [e.epoch for e in rec2.of(EpochEnded)] == [1, 2, 3]
    assert rec2.result.status == "completed"
    assert "--resume" in json.loads((tmp_path / "run" / "argv.json").read_text())


def test_error_event_is_shown_with_its_message(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "error_event")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("exp.yaml", tmp_path / "run"))
    (err,) = rec.of(TrainError)
    assert err.kind == "oom" and "out of memory" in err.message and err.title == "Out of memory"
    assert "batch size" in err.hint
    assert rec.result.status == "failed" and not rec.result.ok and rec.result.exit_code == 1


def test_crash_without_end_event_reports_the_traceback(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "crash")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("exp.yaml", tmp_path / "run"))
    (err,) = rec.of(TrainError)
    assert err.kind == "crash"
    assert "exited with code 3" in err.message
    assert "ValueError: image 7 has no keypoints" in err.message.splitlines()[1]
    assert "Traceback" in err.message  # the raw tail is kept
    assert rec.result.status == "failed" and rec.result.exit_code == 3 and not rec.result.ended_cleanly
    assert ("stderr", "ValueError: image 7 has no keypoints") in rec.logs


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_killed_by_signal_is_a_crash(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "segfault")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("exp.yaml", tmp_path / "run"))
    (err,) = rec.of(TrainError)
    assert err.kind == "crash" and "crashed" in err.message
    assert rec.result.status == "failed" and rec.result.exit_code is None


def test_log_records_reported_on_both_channels_are_shown_once(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "echo")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("x", tmp_path / "run", device="cpu"))
    messages = [m for _level, m in rec.logs]
    assert messages.count("Resumed from ckpt: next epoch 2") == 1
    assert messages.count("Stopping after epoch 1") == 2  # said twice (as event + stderr each time): shown twice
    assert messages.count("only on stderr") == 1


def test_non_json_output_goes_to_the_log(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "garbage", FAKE_EPOCHS="1")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("exp.yaml", tmp_path / "run"))
    stdout = [m for level, m in rec.logs if level == "stdout"]
    assert stdout[:4] == [
        "Hello from a print() in someone's code",
        '{"event": "step", "epoch": 0, "step": 1',
        '{"not_an_event": 1}',
        '{"event": "future_event", "x": 1}',
    ]
    assert rec.result.status == "completed" and not rec.of(TrainError)


def test_a_line_split_across_writes_is_parsed_once(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "split_line", FAKE_EPOCHS="0")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("exp.yaml", tmp_path / "run"))
    assert ("info", "split across writes") in rec.logs
    assert not [m for level, m in rec.logs if level == "stdout"]


def test_exit_without_end_event_is_an_error(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "no_end", FAKE_EPOCHS="1")
    rec = Recorder(proc)
    run_to_end(qtbot, proc, TrainCommand("exp.yaml", tmp_path / "run"))
    (err,) = rec.of(TrainError)
    assert err.kind == "crash" and "without reporting the end" in err.message
    # what was learnt before is still reported
    assert rec.result.status == "failed" and rec.result.epochs_done == 1 and rec.result.best_path


def test_cancel_terminates(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "hang")
    rec = Recorder(proc)
    proc.start(TrainCommand("exp.yaml", tmp_path / "run"))
    qtbot.waitUntil(lambda: ("info", "hanging") in rec.logs, timeout=10000)
    with qtbot.waitSignal(proc.finished, timeout=10000):
        assert proc.cancel()
    assert rec.result.status == "cancelled" and not rec.of(TrainError)
    assert "cancelling" in rec.states and not any("killing" in m for _, m in rec.logs)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_cancel_kills_after_timeout(qtbot, fake: Path, tmp_path: Path) -> None:
    proc = make_process(qtbot, fake, "ignore_term")
    rec = Recorder(proc)
    proc.start(TrainCommand("exp.yaml", tmp_path / "run"))
    qtbot.waitUntil(lambda: ("info", "hanging") in rec.logs, timeout=10000)
    with qtbot.waitSignal(proc.finished, timeout=10000):
        proc.cancel()
    assert rec.result.status == "cancelled"
    assert any("killing" in m for level, m in rec.logs if level == "warning")
    assert signal.SIGTERM  # the process ignored SIGTERM and was killed


def test_failure_to_start_is_reported(qtbot, tmp_path: Path) -> None:
    proc = TrainingProcess(launcher=lambda cmd: (str(tmp_path / "no-such-python"), cmd.args()))
    rec = Recorder(proc)
    with qtbot.waitSignal(proc.finished, timeout=10000):
        proc.start(TrainCommand("exp.yaml", tmp_path / "run"))
    (err,) = rec.of(TrainError)
    assert err.kind == "start" and "no-such-python" in err.message
    assert rec.result.status == "failed"
    assert not proc.stop() and not proc.cancel()


def test_last_exception_line() -> None:
    lines = ["Traceback (most recent call last):", '  File "x.py", line 1', "    foo()",
             "torch.OutOfMemoryError: CUDA out of memory."]
    assert _last_exception_line(lines) == "torch.OutOfMemoryError: CUDA out of memory."
    assert _last_exception_line(["just text"]) == ""
