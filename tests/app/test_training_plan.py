"""The Train dialog's decisions without widgets: TrainingPlan (checks, fine-tuning recipe by default on
trained weights, overrides, the command from hrnet-train's own parser) and TrainingVerdict (better /
worse in words, the guarded default, which actions need confirmation)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

import hrnet
from app.training import command as command_mod
from app.training.command import TrainCommand, UnsupportedOption, train_parser
from app.training.events import parse_event
from app.training.plan import (
    BASE_BACKBONE,
    BASE_CURRENT,
    BASE_POSE_FILE,
    BASE_RANDOM,
    FEW_TRAIN_FRAMES,
    TrainingPlan,
    same_network,
)
from app.training.verdict import ACTION_KEEP, ACTION_RERUN, ACTION_USE, TrainingVerdict
from hrnet.annotations import load_coco
from hrnet.dataset.synthetic import generate_dataset

EXPERIMENT = "synthetic/hrnet_w16_128x96"
FAKE_RECIPE = [("TRAIN.LR", "0.0001"), ("TRAIN.END_EPOCH", "7"), ("TRAIN.LR_STEP", "[5, 6]")]


@pytest.fixture(scope="module")
def pose_doc(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    ann = generate_dataset(root / "synth", 10, image_size=(160, 120), people=(1, 1), seed=5)
    return load_coco(ann)


def reviewed(doc, n: int):
    for i, f in enumerate(doc.frames):
        f.reviewed = i < n
    return doc


@pytest.fixture
def finetune_parser():
    """hrnet-train's real parser (it has --finetune)."""
    real = train_parser()
    assert any(a.dest == "finetune" for a in real._actions)
    return real


@pytest.fixture
def fake_recipe(monkeypatch):
    """A recipe with known values (the real one is tested in tests/hrnet)."""
    calls: list[int] = []

    def finetune_overrides(cfg, num_train_images: int):
        calls.append(num_train_images)
        return list(FAKE_RECIPE)

    monkeypatch.setattr(hrnet, "finetune_overrides", finetune_overrides)
    return calls


def make_plan(doc, tmp_path: Path, **kw) -> TrainingPlan:
    weights = tmp_path / "current.pth"
    weights.write_bytes(b"not read by the plan")
    kw.setdefault("current_experiment", EXPERIMENT)
    kw.setdefault("current_weights", str(weights))
    plan = TrainingPlan(doc, experiment=EXPERIMENT, run_dir=tmp_path / "run", device="cpu", **kw)
    plan.base_kind = plan.default_base_kind()
    return plan


def test_command_comes_from_hrnet_trains_own_parser(tmp_path: Path) -> None:
    cmd = TrainCommand(EXPERIMENT, tmp_path / "run 1", weights="/w/model best.pth", device="cpu",
                       opts=[("TRAIN.END_EPOCH", "2"), ("MODEL.PRETRAINED", "")])
    parsed = train_parser().parse_intermixed_args(cmd.args())  # what hrnet-train reads back
    assert parsed.cfg == EXPERIMENT and parsed.device == "cpu" and parsed.weights == "/w/model best.pth"
    assert parsed.output_dir == str(tmp_path / "run 1") and parsed.progress == "jsonl"
    assert parsed.stop_file == str(tmp_path / "run 1" / "STOP")
    assert parsed.opts == ["TRAIN.END_EPOCH", "2", "MODEL.PRETRAINED", ""]
    resumed = train_parser().parse_intermixed_args(cmd.resumed().args())
    assert resumed.resume == "" and resumed.weights is None
    with pytest.raises(UnsupportedOption, match="progress"):
        TrainCommand(EXPERIMENT, tmp_path, progress="xml").args()  # a choice hrnet-train does not accept


def test_a_flag_this_hrnet_train_lacks_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg")
    monkeypatch.setattr(command_mod, "train_parser", lambda: parser)
    with pytest.raises(UnsupportedOption, match="device"):
        TrainCommand(EXPERIMENT, tmp_path).args()


def test_trained_weights_use_the_finetune_recipe_by_default(pose_doc, tmp_path, finetune_parser,
                                                            fake_recipe) -> None:
    plan = make_plan(reviewed(pose_doc, 8), tmp_path)
    assert plan.base_kind == BASE_CURRENT and plan.uses_finetune
    cmd = plan.command()
    args = finetune_parser.parse_intermixed_args(cmd.args())
    assert args.finetune and args.weights == plan.current_weights
    keys = [k for k, _ in cmd.opts]
    assert "TRAIN.LR" not in keys and "TRAIN.END_EPOCH" not in keys  # the recipe decides, not the dialog
    values = {v.key: v for v in plan.effective_values()}
    frames = plan.pose_document.frames  # sized as hrnet-train sizes it: by the labelled people it trains on
    assert fake_recipe and fake_recipe[-1] == sum(frames[i].num_labelled for i in plan.split()[0])
    assert (values["TRAIN.LR"].value, values["TRAIN.LR"].source) == ("0.0001", "recipe")
    assert (values["TRAIN.END_EPOCH"].value, values["TRAIN.END_EPOCH"].source) == ("7", "recipe")
    assert values["TRAIN.LR_STEP"].source == "recipe"  # every recipe value is shown
    assert values["TRAIN.BATCH_SIZE_PER_GPU"].source == "experiment"
    assert plan.problems() == []
    for kind in (BASE_POSE_FILE, "registry:pose_hrnet_w32_256x192"):
        plan.base_kind = kind
        assert plan.uses_finetune
    # from scratch or a backbone: the experiment's full schedule, no recipe
    for kind in (BASE_RANDOM, BASE_BACKBONE):
        plan.base_kind = kind
        assert not plan.uses_finetune and plan.recipe() == []
        assert not finetune_parser.parse_intermixed_args(plan.command().args()).finetune
        values = {v.key: v for v in plan.effective_values()}
        assert (values["TRAIN.END_EPOCH"].value, values["TRAIN.END_EPOCH"].source) == ("30", "experiment")
    plan.finetune = True  # the recipe on random weights: hrnet-train would refuse, the plan says why first
    assert any("needs trained pose weights" in p for p in plan.problems())
    plan.finetune = None
    # the user may switch the recipe off on trained weights
    plan.base_kind, plan.finetune = BASE_CURRENT, False
    assert not plan.uses_finetune and plan.effective("TRAIN.LR") == "0.002"


def test_overrides_go_in_as_explicit_opts_and_win(pose_doc, tmp_path, finetune_parser, fake_recipe) -> None:
    plan = make_plan(reviewed(pose_doc, 8), tmp_path, epochs=3, lr=5e-4)
    plan.extra_opts_text = "WORKERS 0 TRAIN.LR_STEP [2,3]"
    cmd = plan.command()
    opts = cmd.opts
    assert ("TRAIN.END_EPOCH", "3") in opts and ("TRAIN.LR", "0.0005") in opts
    assert opts[-2:] == [("WORKERS", "0"), ("TRAIN.LR_STEP", "[2,3]")]  # the free text last
    values = {v.key: v for v in plan.effective_values()}
    assert (values["TRAIN.END_EPOCH"].value, values["TRAIN.END_EPOCH"].source) == ("3", "override")
    assert (values["TRAIN.LR"].value, values["TRAIN.LR"].source) == ("0.0005", "override")
    assert (values["TRAIN.LR_STEP"].value, values["TRAIN.LR_STEP"].source) == ("[2, 3]", "override")
    cfg = plan.resolved_cfg()  # experiment < recipe < explicit opts, as hrnet-train applies them
    assert cfg.TRAIN.END_EPOCH == 3 and cfg.TRAIN.LR == pytest.approx(5e-4) and cfg.WORKERS == 0
    plan.epochs = plan.lr = None
    assert plan.effective("TRAIN.END_EPOCH") == "7"
    plan.extra_opts_text = "WORKERS"
    assert any("KEY VALUE" in p for p in plan.problems())
    plan.extra_opts_text = "TRAIN.NOT_A_KEY 1"
    assert any("NOT_A_KEY" in p for p in plan.problems())


def test_real_recipe(pose_doc, tmp_path) -> None:
    plan = make_plan(reviewed(pose_doc, 8), tmp_path)
    recipe = dict(hrnet.finetune_overrides(plan.experiment_cfg(), plan.num_train_samples()))
    values = {v.key: v for v in plan.effective_values()}
    for key in recipe:
        assert key in values and values[key].source == "recipe"
    assert "--finetune" in plan.command().args() and plan.problems() == []


def test_problems_and_few_frames_warning(pose_doc, tmp_path, finetune_parser, fake_recipe) -> None:
    plan = make_plan(reviewed(pose_doc, 0), tmp_path)
    assert any("no reviewed frames" in p for p in plan.problems())
    reviewed(pose_doc, 1)
    assert any("at least two" in p for p in plan.problems())
    reviewed(pose_doc, 3)  # 2 train + 1 val: allowed, with a warning about validation noise
    assert plan.problems() == [] and plan.num_train_frames() < FEW_TRAIN_FRAMES
    (warning,) = plan.warnings()
    assert "noisy" in warning and "training frames" in warning
    reviewed(pose_doc, 8)
    assert plan.warnings() == []
    plan.base_kind, plan.base_path = BASE_POSE_FILE, str(tmp_path / "missing.pth")
    assert any("does not exist" in p for p in plan.problems())
    plan.base_kind = BASE_CURRENT
    plan.current_weights = str(tmp_path / "gone.pth")
    assert any("not on this computer" in p for p in plan.problems())
    plan.current_weights = None
    assert plan.default_base_kind() == BASE_RANDOM and any("no current model" in p for p in plan.problems())
    plan.base_kind = BASE_RANDOM
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pth").write_bytes(b"")
    assert any("already holds a training run" in p for p in plan.problems())
    assert plan.problems(resume=True) == []


def test_old_model_of_the_comparison(pose_doc, tmp_path) -> None:
    plan = make_plan(reviewed(pose_doc, 8), tmp_path)
    assert plan.old_model() == (EXPERIMENT, plan.current_weights)
    plan.current_experiment = plan.current_weights = None
    plan.base_kind, plan.base_path = BASE_POSE_FILE, "/w/coco.pth"
    assert plan.old_model() == (EXPERIMENT, "/w/coco.pth")  # the base it started from
    plan.base_kind = BASE_RANDOM
    assert plan.old_model() is None


def test_the_comparison_evaluates_both_models_with_the_runs_config(pose_doc, tmp_path) -> None:
    """Like for like: the old model is measured with the run's resolved config.yaml (its decoding,
    input size, flip test...) whenever its weights fit that network; another network keeps its own."""
    plan = make_plan(reviewed(pose_doc, 8), tmp_path)
    run_config = tmp_path / "config.yaml"
    run_config.write_text(hrnet.load_config(EXPERIMENT, ["TEST.FLIP_TEST", "False", "MODEL.IMAGE_SIZE", "[64,96]",
                                                         "MODEL.HEATMAP_SIZE", "[16,24]"]).dump(), encoding="utf-8")
    models = plan.comparison_models(str(run_config), "/run/model_best.pth")
    assert models == {"old": (str(run_config), plan.current_weights), "new": (str(run_config), "/run/model_best.pth")}
    plan.current_experiment = "coco/hrnet/w32_256x192_adam_lr1e-3"  # another network: its own experiment
    assert plan.comparison_models(str(run_config), "/b.pth")["old"] == (plan.current_experiment, plan.current_weights)
    assert not same_network(plan.current_experiment, str(run_config))
    plan.current_experiment = plan.current_weights = None
    plan.base_kind = BASE_RANDOM
    assert plan.comparison_models(str(run_config), "/b.pth") == {"new": (str(run_config), "/b.pth")}


@pytest.mark.parametrize(
    ("old", "new", "words", "default"),
    [
        (0.50, 0.62, "better", ACTION_USE),
        (0.766, 0.022, "WORSE", ACTION_KEEP),
        (0.60, 0.6002, "no better", ACTION_KEEP),
    ],
)
def test_verdict_in_words_and_guarded_default(old: float, new: float, words: str, default: str) -> None:
    v = TrainingVerdict({"AP": old, "PCK": 0.5}, {"AP": new, "PCK": 0.4}, num_val_frames=2)
    text = v.summary()
    assert words in text and f"{new:.3f}" in text and f"{old:.3f}" in text and "2 validation frames" in text
    assert v.default_action == default
    if default == ACTION_USE:
        assert f"{new - old:+.3f}" in text
        assert not v.needs_confirmation(ACTION_USE) and not v.needs_confirmation(ACTION_RERUN)
    else:
        assert v.needs_confirmation(ACTION_USE) and v.needs_confirmation(ACTION_RERUN)
        assert "36 unreviewed frames" in v.confirmation(ACTION_RERUN, 36)
    assert not v.needs_confirmation(ACTION_KEEP)


def test_verdict_edge_cases() -> None:
    nothing_to_keep = TrainingVerdict(None, {"AP": 0.3}, num_val_frames=3)
    assert nothing_to_keep.default_action == ACTION_USE and "no current model" in nothing_to_keep.summary()
    base = TrainingVerdict({"AP": 0.7}, {"AP": 0.7}, num_val_frames=3, best_is_base=True)
    assert base.default_action == ACTION_KEEP and "base model itself" in base.summary()
    failed_old = TrainingVerdict(None, {"AP": 0.3}, old_failed=True)
    assert failed_old.needs_confirmation(ACTION_USE) and "could not be evaluated" in failed_old.summary()
    failed_new = TrainingVerdict({"AP": 0.3}, None)
    assert failed_new.needs_confirmation(ACTION_USE) and "not been evaluated" in failed_new.summary()
    not_yet = TrainingVerdict(None, None, old_failed=True)  # Use clicked before the comparison finished
    assert not_yet.needs_confirmation(ACTION_RERUN) and "not known" in not_yet.summary()
    pck_only = TrainingVerdict({"PCK": 0.5}, {"PCK": 0.8}, few_frames=True)
    assert pck_only.metric == "PCK" and pck_only.better and "chance" in pck_only.summary()
    assert np.isclose(pck_only.delta, 0.3)


def test_end_event_tells_whether_the_best_model_is_the_base() -> None:
    ev = parse_event({"event": "end", "status": "completed", "epochs_done": 4, "best_metric": 0.7,
                      "best_epoch": None, "best_is_base": True, "base_metric": 0.7})
    assert ev.best_is_base is True and ev.best_epoch is None and ev.base_metric == pytest.approx(0.7)
    old = parse_event({"event": "end", "status": "completed"})
    assert not old.best_is_base and old.best_epoch is None


def test_the_recipe_shown_is_the_one_hrnet_train_applies(qtbot, tmp_path: Path) -> None:
    """The plan sizes the recipe exactly as hrnet-train does on the exported data."""
    from app.commands import SetReviewed
    from app.document import AnnotationDocument
    from app.training.data import export_reviewed
    from hrnet.cli.train import apply_finetune_recipe, build_parser, parse_args

    ann = generate_dataset(tmp_path / "synth", 9, image_size=(160, 120), people=(1, 3), seed=2)
    doc = AnnotationDocument()
    doc.open([ann], image_root=tmp_path / "synth" / "images" / "train")
    doc.push(SetReviewed(doc, list(range(9)), True))
    plan = make_plan(doc.data, tmp_path)
    data = export_reviewed(doc, plan.data_dir, plan.val_fraction, plan.seed)
    args = parse_args(build_parser(), plan.command(data=data).args())
    assert args.finetune
    assert apply_finetune_recipe(args) == plan.recipe()
