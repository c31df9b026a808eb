#!/usr/bin/env bash
# The one GPU check for the cuda backend (issue 9), run from the repository root on a machine
# with an NVIDIA GPU and CuPy (no network needed; nothing is installed):
#
#     bash tools/gpu_check.sh                # logs and reports go to $OUT, else ./gpu-out
#
# Steps, each with its own time limit so the whole run ends within about 8 minutes:
#   1. environment: GPU, driver, Python, CuPy/NumPy versions, plugtorch's backend table
#   2. pytest tests/backends/cuda and tests/test_dlpack.py on the GPU (8 processes with xdist)
#   3. benchmarks/cuda.py: plugtorch vs raw CuPy (and PyTorch) in the same run
#   4. the conformance suite on cuda in 8 processes, when plugtorch.conformance.cli exists
# Every step runs even if an earlier one fails; summary.txt lists each step's exit status.
# CuPy compiles each elementwise kernel on its first use (NVRTC), so a fresh machine spends
# much of the first minutes compiling; later steps reuse CuPy's kernel cache.
set -o pipefail
cd "$(dirname "$0")/.." || exit 2

OUT="${OUT:-./gpu-out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# from a source tree (no pip install on that machine), conformance/ is plugtorch.conformance
# through a link, as the wheel's package_dir mapping makes it when installed
[ -e plugtorch/conformance ] || ln -s ../conformance plugtorch/conformance
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_BUDGET_S:-480}"     # seconds for the whole run
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
status=0

step() {   # step NAME LIMIT_S LOGFILE COMMAND...
    local name=$1 limit=$2 log=$3
    shift 3
    local left=$((BUDGET - SECONDS))
    if [ "$left" -lt 20 ]; then
        echo "== $name: skipped, the time budget is spent" | tee -a "$SUMMARY"
        status=1
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit}s, started at ${SECONDS}s)" | tee -a "$log"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 124 ] && echo "   (stopped at its ${limit}s limit)" | tee -a "$log"
    echo "== $name: exit $rc after ${SECONDS}s in all" | tee -a "$SUMMARY"
    [ "$rc" -ne 0 ] && status=1
}

ENV_LOG="$OUT/environment.txt"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) $(git status --porcelain 2>/dev/null | wc -l) uncommitted paths"
    nvidia-smi -L || echo "nvidia-smi failed"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
} 2>&1 | tee "$ENV_LOG"
step "environment" 90 "$ENV_LOG" "$PY" - <<'EOF'
import platform, numpy
print("python", platform.python_version(), "numpy", numpy.__version__)
try:
    import cupy
    rt = cupy.cuda.runtime
    print("cupy", cupy.__version__, "CUDA runtime", rt.runtimeGetVersion(), "driver", rt.driverGetVersion(),
          "devices", rt.getDeviceCount())
except Exception as e:
    print("cupy unusable:", type(e).__name__, e)
import plugtorch as pt
print(pt.backends.summary())
print("cuda available:", pt.cuda.is_available(), "|", pt.cuda.unavailable_reason() or pt.cuda.get_device_name(0))
EOF

# pytest-xdist, where installed, spreads the tests (and so CuPy's first-use kernel compiles,
# which the on-disk kernel cache then shares with the later steps) over 8 processes
XDIST=""
"$PY" -c "import xdist" >/dev/null 2>&1 && XDIST="-n 8"
unset PLUGTORCH_CUDA_TEST_DEVICE
step "pytest cuda + dlpack" 240 "$OUT/pytest-cuda.log" \
    "$PY" -m pytest tests/backends/cuda tests/test_dlpack.py $XDIST -q -rfEs --tb=short -p no:cacheprovider

step "benchmarks/cuda.py" 120 "$OUT/benchmark-cuda.log" \
    "$PY" benchmarks/cuda.py --report "$OUT/benchmark-cuda.md"

CONF_BACKEND="${GPU_CHECK_CONFORMANCE_BACKEND:-cuda}"   # another name checks this script elsewhere
if "$PY" -c "import plugtorch.conformance.cli" >/dev/null 2>&1; then
    # 8 shards in parallel (tools/conformance_shards.py), stopped in time to merge their reports
    step "conformance on $CONF_BACKEND" 420 "$OUT/conformance-cuda.log" \
        "$PY" tools/conformance_shards.py --backend "$CONF_BACKEND" --shards 8 \
        --timeout $((BUDGET - SECONDS - 25)) --report "$OUT/conformance-cuda.md"
else
    echo "== conformance on cuda: not run, plugtorch.conformance.cli is not in this checkout yet" \
        | tee -a "$SUMMARY" "$OUT/conformance-cuda.log"
fi

echo "---- summary (${SECONDS}s) ----"
cat "$SUMMARY"
exit $status
