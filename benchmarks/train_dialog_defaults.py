"""Do the Train dialog's defaults improve the model on the sample project, or keep it? (issue 9, "Done when")

The walk a new user takes, headless: open ``resources/sample/project.json`` (a copy) with the bundled
demo model as the current model, mark the labelled frames reviewed (plus ``--extra`` frames whose demo
predictions are accepted as they are, as a user who reviews them without change does), and run
exactly what the dialog runs with its defaults: the :class:`~app.training.plan.TrainingPlan` of the
dialog (current model as base weights -> ``--finetune``), its export, its ``hrnet-train`` command,
then the dialog's comparison (hrnet's one evaluation, old vs new model on the validation frames) and
its verdict.

Prints the base model's validation AP (epoch 0), each epoch's AP, ``model_best``'s AP and whether it
is the base, the comparison, the verdict, and the wall time. Run with ``nice -n 10``; a few minutes
on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO_EXPERIMENT = "synthetic/hrnet_w16_128x96"
DEMO_WEIGHTS = ROOT / "resources" / "models" / "hrnet_w16_synthetic.pth"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra", type=int, default=0, help="unlabelled frames reviewed with the demo's predictions")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="split seeds (one run each)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    args = ap.parse_args()

    from PySide6.QtCore import QCoreApplication

    from app.commands import ApplyPredictions, SetReviewed
    from app.document import AnnotationDocument
    from app.training.data import export_reviewed
    from app.training.evaluation import evaluate_model
    from app.training.events import BaseValidated, EpochEnded, RunFinished, parse_event
    from app.training.plan import TrainingPlan
    from app.training.verdict import TrainingVerdict
    from hrnet import Predictor

    _app = QCoreApplication.instance() or QCoreApplication([])
    work = Path(tempfile.mkdtemp(prefix="train_dialog_defaults_")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    sample = work / "sample"
    if not sample.exists():
        shutil.copytree(ROOT / "resources" / "sample", sample)
    doc = AnnotationDocument()
    doc.open([sample / "project.json"])
    labelled = [i for i, f in enumerate(doc.data.frames) if f.num_labelled > 0]
    extra: list[int] = []
    if args.extra:  # review a few more frames by accepting the demo model's predictions on them
        predictor = Predictor(DEMO_EXPERIMENT, weights=str(DEMO_WEIGHTS), device="cpu")
        from hrnet import read_image

        candidates = [i for i, f in enumerate(doc.data.frames) if f.num_labelled == 0 and f.video is None
                      and f.file_name.startswith("walk_")][: args.extra]
        preds = {}
        for i in candidates:
            f = doc.data.frames[i]
            image = read_image(sample / "images" / f.file_name)
            h, w = image.shape[:2]
            people = predictor.predict(image, [[0, 0, w, h]])
            from hrnet import Instance

            preds[i] = [Instance.from_prediction(p.keypoints, score=p.score, min_confidence=0.3) for p in people]
        doc.push(ApplyPredictions(doc, preds))
        extra = candidates
    doc.push(SetReviewed(doc, labelled + extra, True))
    print(f"sample project: {len(doc.data.frames)} frames, reviewed {len(labelled)} labelled + {len(extra)} "
          f"accepted-prediction frames")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rows = []
    for seed in args.seeds:
        plan = TrainingPlan(doc.data, experiment=DEMO_EXPERIMENT, run_dir=work / f"run-seed{seed}", device="cpu",
                            current_experiment=DEMO_EXPERIMENT, current_weights=str(DEMO_WEIGHTS), seed=seed)
        plan.base_kind = plan.default_base_kind()  # what the dialog selects: the current model
        assert plan.uses_finetune, "the dialog fine-tunes trained weights by default"
        if plan.problems():
            print("problems:", plan.problems())
            return 1
        for w in plan.warnings():
            print("warning:", w)
        shutil.rmtree(plan.run_dir, ignore_errors=True)
        data = export_reviewed(doc, plan.data_dir, plan.val_fraction, plan.seed)
        cmd = plan.command(data=data)
        print(f"\nseed {seed}: {len(data.train)} training / {len(data.val)} validation frames")
        print("  effective:", ", ".join(f"{v.key}={v.value} ({v.source})" for v in plan.effective_values()))
        program, argv = cmd.program()
        t0 = time.perf_counter()
        proc = subprocess.run([program, *argv], capture_output=True, text=True, env=env, cwd=plan.run_dir.parent,
                              check=False)
        wall = time.perf_counter() - t0
        events = [parse_event(json.loads(line)) for line in proc.stdout.splitlines() if line.startswith("{")]
        base = next((e for e in events if isinstance(e, BaseValidated)), None)
        epochs = [e for e in events if isinstance(e, EpochEnded)]
        end = next((e for e in events if isinstance(e, RunFinished)), None)
        if end is None or not end.ok:
            print(proc.stderr[-3000:])
            return 1
        print(f"  base model (epoch 0): AP {base.metrics.get('AP') if base else float('nan'):.3f}")
        print("  epochs 1..: AP " + " ".join(f"{e.metrics.get('AP', float('nan')):.3f}" for e in epochs))
        print(f"  end: {end.status} after {end.epochs_done} epochs, best {end.metric_name} {end.best_metric:.3f}, "
              f"best_is_base {end.best_is_base}, wall {wall:.0f} s")
        # as the dialog does: both models with the run's config.yaml (like for like)
        models = plan.comparison_models(str(plan.run_dir / "config.yaml"), str(end.best_path))
        old, new = (evaluate_model(*models[k], data.val_json, data.images_dir, device="cpu") for k in ("old", "new"))
        verdict = TrainingVerdict(old.metrics, new.metrics, num_val_frames=new.num_images,
                                  best_is_base=end.best_is_base, few_frames=len(data.train) < 4)
        base_ap = base.metrics.get("AP", float("nan")) if base else float("nan")
        print(f"  comparison: current AP {old.metrics['AP']:.3f} -> new AP {new.metrics['AP']:.3f} "
              f"(training log: base {base_ap:.3f}, best {end.best_metric:.3f})")
        print(f"  verdict: {verdict.summary()}  default: {verdict.default_action}")
        rows.append((seed, old.metrics["AP"], new.metrics["AP"], end.best_is_base, wall))
    print("\nseed  current_AP  new_AP  best_is_base  wall_s")
    for seed, a, b, is_base, wall in rows:
        print(f"{seed:4d}  {a:10.3f}  {b:6.3f}  {is_base!s:12}  {wall:6.0f}")
    worse = [r for r in rows if r[2] < r[1] - 5e-4]
    print("RESULT:", "the defaults never made the model worse" if not worse else f"WORSE on seeds {worse}")
    return 0 if not worse else 2


if __name__ == "__main__":
    sys.exit(main())
