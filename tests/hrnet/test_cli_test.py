"""hrnet-test: official argument style, the stats table, the results JSON, DARK decoding, errors."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from hrnet.cli import test as hrnet_test
from hrnet.train import main as train_main
from tests.hrnet.test_train_helpers import EXPERIMENT, TINY_OPTS, make_dataset, of_kind, parse_jsonl


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[str], dict]:
    root = tmp_path_factory.mktemp("cli_test")
    opts = make_dataset(root / "data")
    run = root / "run"
    buf, old = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        code = train_main(["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run), "--progress", "jsonl",
                           *TINY_OPTS, *opts, "TRAIN.END_EPOCH", "1"])
    finally:
        sys.stdout = old
    assert code == 0
    last = of_kind(parse_jsonl(buf.getvalue()), "epoch_end")[-1]
    return run, opts, last


def test_evaluates_like_the_last_training_validation(trained, tmp_path, capsys):
    run, opts, last = trained
    out_dir = tmp_path / "eval"
    metrics_file = tmp_path / "metrics.json"
    code = hrnet_test.main(["--cfg", EXPERIMENT, "TEST.MODEL_FILE", str(run / "final_state.pth"), *TINY_OPTS, *opts,
                      "--device", "cpu", "--output-dir", str(out_dir), "--metrics-json", str(metrics_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    # the pycocotools stats and the official name/value table
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]" in out
    assert "| Arch | AP | AP .5 | AP .75 | AP (M) | AP (L) | AR | AR .5 | AR .75 | AR (M) | AR (L) |" in out
    results = out_dir / "results" / "keypoints_val_results_0.json"
    assert results.is_file()
    people = json.loads(results.read_text())
    assert people and {"image_id", "category_id", "keypoints", "score"} <= set(people[0])
    metrics = json.loads(metrics_file.read_text())
    # the final weights are the last epoch's: same numbers as that epoch's validation
    assert metrics == pytest.approx(last["metrics"])
    assert (out_dir / "test.log").is_file()


def test_defaults_to_final_state_of_the_run_folder_and_dark(trained, tmp_path, capsys):
    run, opts, last = trained
    metrics_file = tmp_path / "m.json"
    code = hrnet_test.main(["--cfg", EXPERIMENT, *TINY_OPTS, *opts, "TEST.DECODE", "dark", "TEST.FLIP_TEST", "False",
                      "--device", "cpu", "--output-dir", str(run), "--metrics-json", str(metrics_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "decode dark" in out and "flip test off" in out
    assert set(json.loads(metrics_file.read_text())) == set(last["metrics"])


def test_errors_are_one_line(tmp_path, trained, capsys):
    _, opts, _ = trained
    code = hrnet_test.main(["--cfg", EXPERIMENT, "TEST.MODEL_FILE", str(tmp_path / "missing.pth"), *TINY_OPTS, *opts,
                      "--device", "cpu", "--output-dir", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1 and "hrnet-test: error: Model file not found" in err and "Traceback" not in err
    code = hrnet_test.main(["--cfg", "no/such/experiment", "--device", "cpu"])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
