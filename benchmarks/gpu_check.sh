#!/usr/bin/env bash
# GPU check in one call: build the CUDA kernels, run the CUDA tests and the kernel benchmark, write JSON.
#
#   benchmarks/gpu_check.sh [OUT_JSON]
#
# OUT_JSON defaults to $OUT/gpu_check.json when OUT is set, else bench_out/gpu_check.json. The JSON holds
# the card, the torch/CUDA/nvcc versions, whether the build succeeded (and how long it took), the CUDA
# test counts (passed/failed/errors/skipped) and the benchmark rows (bench_kernels.py --out). The JSON is
# written even when a step fails; the exit code is then 1 (2 for bad usage).
#
# Runs from the checkout with the machine's own python3 (or $PYTHON) and whatever torch it has; it
# installs nothing. The kernels are built afresh into a temporary directory (DARTS_GNN_EXT_DIR) unless
# that variable is set. Environment:
#   GPU_CHECK_DRY=1      dry run on the CPU: the same steps with tiny sizes and the cached CPU build
#                        (the CUDA tests then skip); tests/test_gpu_check.py runs it
#   GPU_CHECK_BENCH="…"  bench_kernels.py arguments (default: powerlaw-M and powerlaw-L, d 64 and 128,
#                        K 1 3 5 on cuda; add --gowalla PATH/train.txt to include Gowalla)
set -euo pipefail

if [[ $# -gt 1 || "${1:-}" == -* ]]; then
  echo "usage: benchmarks/gpu_check.sh [OUT_JSON]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
root="$PWD"
out="${1:-${OUT:-bench_out}/gpu_check.json}"
dry="${GPU_CHECK_DRY:-0}"
py="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"

export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export DARTS_GNN_REQUIRE_EXT=1  # a failed build is an error here, never a silent fallback
unset DARTS_GNN_NO_EXT
if [[ "$dry" == 1 ]]; then
  device=cpu
  bench_args="--graphs powerlaw-S --d 16 --k 1 --repeats 1"
else
  device=cuda
  export DARTS_GNN_EXT_DIR="${DARTS_GNN_EXT_DIR:-$work/ext}"
  bench_args="${GPU_CHECK_BENCH:---graphs powerlaw-M powerlaw-L --d 64 128 --k 1 3 5 --repeats 7}"
fi

step() {  # step NAME COMMAND...: run, log to $work/NAME.log, record the exit code; never abort the script
  local name="$1"
  shift
  echo "== gpu_check: $name" >&2
  local start=$SECONDS rc=0
  "$@" > >(tee "$work/$name.log") 2>&1 || rc=$?
  echo "$rc $((SECONDS - start))" > "$work/$name.rc"
  echo "== gpu_check: $name exit $rc ($((SECONDS - start)) s)" >&2
}

step probe "$py" -c "
import json, shutil, subprocess, torch
cuda = torch.cuda.is_available()
nvcc = shutil.which('nvcc')
info = {'torch': torch.__version__, 'torch_cuda': torch.version.cuda, 'cuda_available': cuda,
        'card': torch.cuda.get_device_name(0) if cuda else None,
        'nvcc': subprocess.run([nvcc, '--version'], capture_output=True, text=True).stdout.strip().splitlines()[-1]
        if nvcc else None}
open('$work/probe.json', 'w').write(json.dumps(info))
print(info)
if not cuda and '$dry' != '1':
    raise SystemExit('no CUDA device visible to torch (GPU_CHECK_DRY=1 runs the CPU dry run)')
"
step build "$py" -c "
import json, time
from darts_gnn.ops import backend, _extension
t = time.perf_counter()
name = backend()
info = {'backend': name, 'status': _extension.status(), 'seconds': round(time.perf_counter() - t, 1)}
open('$work/build.json', 'w').write(json.dumps(info))
print(info)
raise SystemExit(0 if name == ('cuda' if '$device' == 'cuda' else 'cpp-cpu') else 1)
"
test_files=(tests/test_ops.py tests/test_ops_autograd.py)
[[ "$dry" == 1 ]] || test_files+=(tests/test_ops_nvcc.py)  # the suite compiles the .cu anyway; a dry run skips it
step tests "$py" -m pytest -q -rs -p no:cacheprovider -k cuda --junitxml="$work/junit.xml" "${test_files[@]}"
# shellcheck disable=SC2086  # word splitting of the benchmark arguments is intended
step bench "$py" benchmarks/bench_kernels.py --device "$device" $bench_args --out "$work/bench.json"

"$py" - "$work" "$out" "$dry" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET

work, out, dry = sys.argv[1], sys.argv[2], sys.argv[3] == "1"


def load(name):
    path = os.path.join(work, name)
    return json.load(open(path)) if os.path.isfile(path) else None


def rc(name):
    code, seconds = open(os.path.join(work, name + ".rc")).read().split()
    return {"exit": int(code), "seconds": int(seconds)}


tests = None
if os.path.isfile(os.path.join(work, "junit.xml")):
    suite = ET.parse(os.path.join(work, "junit.xml")).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    tests = counts
steps = {name: rc(name) for name in ("probe", "build", "tests", "bench")}
doc = {"dry_run": dry, **(load("probe.json") or {}), "build": load("build.json"),
       "build_ok": steps["build"]["exit"] == 0, "tests": tests, "bench": load("bench.json"), "steps": steps}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2)
os.replace(tmp, out)
print(f"gpu_check: wrote {out}: build_ok={doc['build_ok']} tests={tests} "
      f"bench_rows={len(doc['bench']['rows']) if doc['bench'] else 0}")
sys.exit(0 if all(s["exit"] == 0 for s in steps.values()) else 1)
EOF
