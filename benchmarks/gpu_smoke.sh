#!/usr/bin/env bash
# Every GPU path of hrnet, once: the first thing to run on a machine with a GPU.
#
#   bash benchmarks/gpu_smoke.sh                 # from the repository root; one GPU, < 8 minutes
#   DEV=cpu bash benchmarks/gpu_smoke.sh         # CI-sized dry run of the script itself (no GPU)
#
# Nothing is downloaded: random (realistic) W32 weights, the bundled demo model, the sample project
# and synthetic data. Environment: DEV (default cuda), PYTHON (default .venv/bin/python, else
# python), WORK (scratch folder, default a temporary one; kept when KEEP=1), OUT (if set, figures go
# to $OUT/predictor_gpu.json and this log to $OUT/gpu_smoke.log).
#
# Checks, in order:
#   1. Predictor W32 256x192 fp32 / fp16 persons/s at batch 1, 32, 128; fp16 vs fp32 keypoints;
#      padded vs unpadded first calls for new person counts; Faster R-CNN fp32 vs fp16 autocast
#   2. the demo model: keypoints on DEV against the CPU (fp32, and fp16 on a GPU)
#   3. a predict on the app's worker thread
#   4. GPU memory after the app clears a model (gc + empty_cache)
#   5. a short AMP + channels_last training run, its resume, GradScaler state in the checkpoint
#   6. a 2-process NCCL torchrun run when 2 GPUs exist (and --device cuda:0 refused under torchrun)
#   7. hrnet-predict on a video of the sample images: DEV against CPU; with 2 GPUs also sharded by
#      a 2-process NCCL torchrun (one merged JSON) against the single-GPU run
#   8. ONNX export from a model on DEV, checked with ONNX Runtime
# Each check prints "OK ..." or "FAIL ..."; the script goes on and exits 1 if any failed.
set -u
cd "$(dirname "$0")/.."
DEV=${DEV:-cuda}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
if [ -n "${WORK:-}" ]; then
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_smoke.XXXXXX")
  if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
fi
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; exec > >(tee "$OUT/gpu_smoke.log") 2>&1; fi

if [ "$DEV" = cpu ]; then  # CI size: the same code paths on a tiny model and tiny batches
  BENCH=(--cfg synthetic/hrnet_w16_128x96 --batches 1 2 --repeats 1 --agree 2 --counts 2 --det-frames 0)
  FRAMES=(--frames 2); RELEASE=(--cfg synthetic/hrnet_w16_128x96 --batch 2); TRAIN=(--images 2 --batch 2 --tiny)
  VIDEO_FRAMES=2
else
  BENCH=(--batches 1 32 128 --repeats 5 --counts 24 --det-frames 4)
  FRAMES=(); RELEASE=(--batch 128); TRAIN=(--images 64 --batch 32)
  VIDEO_FRAMES=40
fi
SMOKE=("$PYTHON" benchmarks/gpu_smoke.py)
FAILED=()
run() {  # run NAME COMMAND...: time it, remember a failure, go on
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name"
  if "$@"; then echo "   ($name: $((SECONDS - t0)) s)"; else echo "FAIL $name (exit $?)"; FAILED+=("$name"); fi
}

echo "gpu_smoke: DEV=$DEV, python $("$PYTHON" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)')"
if [ "$DEV" != cpu ]; then
  "$PYTHON" -c 'from hrnet.utils.device import available_devices as a; [print("  ", d.label) for d in a()]'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
fi

BENCH_JSON=()
if [ -n "${OUT:-}" ]; then BENCH_JSON=(--json "$OUT/predictor_gpu.json"); fi
run "predictor benchmark" "$PYTHON" benchmarks/predictor_gpu.py --device "$DEV" "${BENCH[@]}" "${BENCH_JSON[@]}"
run "demo model $DEV vs cpu" "${SMOKE[@]}" demo --device "$DEV" "${FRAMES[@]}"
run "worker thread" "${SMOKE[@]}" worker --device "$DEV" "${FRAMES[@]}"
run "memory release" "${SMOKE[@]}" release --device "$DEV" "${RELEASE[@]}"
run "train AMP + resume" "${SMOKE[@]}" train --device "$DEV" --work "$WORK/train" "${TRAIN[@]}"

NGPU=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)')
if [ "$DEV" != cpu ] && [ "$NGPU" -ge 2 ]; then
  DATA=$(ls "$WORK"/train/data/annotations/person_keypoints_train.json 2>/dev/null)
  TORCHRUN=("$PYTHON" -m torch.distributed.run --standalone --nproc_per_node=2 -m hrnet.train
            --cfg synthetic/hrnet_w16_128x96 --progress jsonl
            DATASET.TRAIN_ANNOTATIONS "$DATA" DATASET.TRAIN_IMAGES "$WORK/train/data/images/train"
            DATASET.TEST_ANNOTATIONS "$WORK/train/data/annotations/person_keypoints_val.json"
            DATASET.TEST_IMAGES "$WORK/train/data/images/val" WORKERS 0 TRAIN.END_EPOCH 1
            TRAIN.BATCH_SIZE_PER_GPU 16 TEST.BATCH_SIZE_PER_GPU 16)
  ddp() { "${TORCHRUN[@]}" --device cuda --output-dir "$WORK/ddp" >"$WORK/ddp.log" 2>&1; local rc=$?
          tail -n 3 "$WORK/ddp.log"; return $rc; }
  run "torchrun 2 x NCCL" ddp
  refused() { ! "${TORCHRUN[@]}" --device cuda:0 --output-dir "$WORK/ddp0" >"$WORK/ddp0.log" 2>&1 \
              && grep -q "CUDA_VISIBLE_DEVICES" "$WORK/ddp0.log"; }
  run "torchrun refuses --device cuda:0" refused
else
  echo "== torchrun 2 x NCCL: skipped ($NGPU GPU(s) visible)"
fi

VIDEO=$("${SMOKE[@]}" video --work "$WORK" --frames "$VIDEO_FRAMES" | tail -n 1)
PREDICT=("$PYTHON" -m hrnet.cli.predict --experiment synthetic/hrnet_w16_128x96
         --weights resources/models/hrnet_w16_synthetic.pth --detector full --quiet "$VIDEO")
run "hrnet-predict video on $DEV" "${PREDICT[@]}" --device "$DEV" --out "$WORK/pred_dev.json"
if [ "$DEV" = cpu ]; then
  cp "$WORK/pred_dev.json" "$WORK/pred_cpu.json"  # the dry run: once is enough
else
  run "hrnet-predict video on cpu" "${PREDICT[@]}" --device cpu --out "$WORK/pred_cpu.json"
fi
# the default precision on a GPU is fp16: compare within the heatmap's quantisation
run "hrnet-predict $DEV vs cpu" "${SMOKE[@]}" compare "$WORK/pred_dev.json" "$WORK/pred_cpu.json" --px 1.0 --share 0.95
if [ "$DEV" != cpu ] && [ "$NGPU" -ge 2 ]; then
  run "hrnet-predict torchrun 2 x NCCL" "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node=2 \
      "${PREDICT[@]:1}" --device cuda --batch-frames 4 --out "$WORK/pred_ddp.json"
  run "hrnet-predict torchrun vs one GPU" "${SMOKE[@]}" compare "$WORK/pred_ddp.json" "$WORK/pred_dev.json" \
      --px 1.0 --share 0.95
fi
run "onnx export from $DEV" "${SMOKE[@]}" onnx --device "$DEV" --work "$WORK"

echo "gpu_smoke: $SECONDS s in all"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "gpu_smoke: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "gpu_smoke: all checks passed"
