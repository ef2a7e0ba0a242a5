#!/usr/bin/env bash
# The one-command GPU check (issue 10): CUDA tests, then the benchmark suite, in at most ~8 minutes.
#
#   bash tools/gpu_check.sh [--out DIR] [--budget SECONDS] [--test-budget SECONDS] [--tests PATH...]
#                           [--commit HASH] [--no-wheels] [--no-tests] [--entries LABEL...]
#
# 1. Installs the wheels of .whl/ (tools/fetch_gpu_wheels.sh) into /tmp/site when present and puts the checkout
#    first on PYTHONPATH.
# 2. Runs every test marked `cuda` (`pytest -m cuda tests`, at most TEST_BUDGET seconds; EMA/CUT and any other
#    feature's CUDA tests run as soon as they carry the marker).
# 3. Runs `tools/benchmark.py --suite gpu` with what is left of the budget: each case in its own process with its
#    own time limit; a failing case is recorded and the suite goes on.
# Writes into DIR (default $OUT, else ./gpu_check_out): gpu_check.log (everything printed), cuda_tests.xml,
# results.jsonl (environment line + one line per result) and report.md (ready-to-paste Markdown with device, torch,
# CUDA, date and commit). Without CUDA the GPU parts are skipped and small CPU stand-ins run (tests/test_gpu_check.py).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT_DIR="${OUT:-gpu_check_out}"
BUDGET=470          # seconds for the whole script; the device tool's call gets a longer timeout
TEST_BUDGET=160
TESTS=(tests)
WHEELS=1
RUN_TESTS=1
ENTRIES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT_DIR="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --test-budget) TEST_BUDGET="$2"; shift 2 ;;
    --commit) export I2I_COMMIT="$2"; shift 2 ;;
    --no-wheels) WHEELS=0; shift ;;
    --no-tests) RUN_TESTS=0; shift ;;
    --entries) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do ENTRIES+=("$1"); shift; done ;;
    --tests) shift; TESTS=(); while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do TESTS+=("$1"); shift; done ;;
    *) echo "gpu_check.sh: unknown argument '$1' (see the header of tools/gpu_check.sh)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
exec > >(tee -a "$LOG") 2>&1
PYTHON="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1

if [ $WHEELS = 1 ] && compgen -G ".whl/*.whl" > /dev/null; then
  echo "[gpu_check] installing $(ls .whl/*.whl | wc -l) wheels from .whl/ into /tmp/site"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}" || echo "[gpu_check] wheel install failed; going on"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${I2I_COMMIT:-}" ] && [ -f .whl/COMMIT ]; then export I2I_COMMIT="$(cat .whl/COMMIT)"; fi

echo "[gpu_check] $(date -u '+%Y-%m-%d %H:%M:%S UTC'), budget ${BUDGET} s, output in $OUT_DIR"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PYTHON" - <<'PY'
import importlib
for name in ("torch", "torchvision", "albumentations", "kornia", "yaml", "tqdm", "safetensors", "scipy", "PIL",
             "cv2", "torchmetrics", "tensorboard", "huggingface_hub", "pytest"):
    try:
        print(f"[gpu_check] {name} {getattr(importlib.import_module(name), '__version__', '?')}")
    except Exception as err:  # noqa: BLE001 - a missing package is reported, the tests that need it fail alone
        print(f"[gpu_check] MISSING {name}: {err}")
import torch
print(f"[gpu_check] CUDA available: {torch.cuda.is_available()}, torch CUDA {torch.version.cuda}")
PY

status=0
JUNIT=()
if [ $RUN_TESTS = 1 ]; then
  echo "[gpu_check] tests marked cuda (at most ${TEST_BUDGET} s): ${TESTS[*]}"
  timeout -k 10 "$TEST_BUDGET" "$PYTHON" -m pytest -m cuda -q -rfEs -p no:cacheprovider --continue-on-collection-errors \
    --junitxml "$OUT_DIR/cuda_tests.xml" "${TESTS[@]}"
  status=$?
  [ $status -eq 124 ] && echo "[gpu_check] CUDA tests stopped at their ${TEST_BUDGET} s budget"
  [ $status -eq 5 ] && status=0  # no test collected/selected is not a failure
  JUNIT=(--tests-junit "$OUT_DIR/cuda_tests.xml")
fi

left=$((BUDGET - SECONDS - 10))
echo "[gpu_check] benchmark suite, ${left} s"
"$PYTHON" tools/benchmark.py --suite gpu --out-dir "$OUT_DIR" --budget "$left" "${JUNIT[@]}" \
  ${ENTRIES[@]+--entries "${ENTRIES[@]}"}
bench=$?
echo "[gpu_check] done in ${SECONDS} s (tests exit $status, suite exit $bench); report: $OUT_DIR/report.md"
cat "$OUT_DIR/report.md"
[ $status -eq 0 ] && [ $bench -eq 0 ]
