#!/usr/bin/env bash
# Issue 9's GPU rows in one call of about 8 minutes on one GPU: the demo
# cold and from the compile cache, each group's compile time, vmap vs loop,
# and dlexp vs PyTorch (CUDA), in priority order under one deadline, so a
# short lease still brings back the first rows.
#
#   OUT=runs/gpu PYTHON=python3 bash benchmarks/gpu_session.sh [SECONDS]
#
# Needs dlexp importable (pip install -e .[gpu], or PYTHONPATH=.), Fashion-MNIST
# (data.data_dir or $DLEXP_DATA_DIR) and, for the PyTorch column, torch with
# CUDA. Writes one log per step and summary.txt under $OUT, and prints the
# summary last. A step that fails or runs out of time is reported and the
# next one runs. STEPS picks steps and their order (default: env demo compile
# members peers; also compile_noautotune and members_im2col, two GPU ideas
# not measured yet: benchmarks/README.md). SMOKE=1: the same steps at toy
# sizes (checks the script on a CPU in about a minute; the numbers mean
# nothing).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_session}
PY=${PYTHON:-python3}
BUDGET=${1:-480}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
END=$(($(date +%s) + BUDGET))
# Several processes share the GPU (the PyTorch worker, the whole-process
# row's children): JAX must not take 75% of its memory up front in each.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
# A cold start, as a fresh clone has: an empty persistent compile cache.
export DLEXP_COMPILE_CACHE=$(mktemp -d)
WORK=$(mktemp -d)
if [[ ${SMOKE:-} == 1 ]]; then
  DEMO=(--smoke) CASES=(mlp3x256:1) MODELS=(mlp2x16) MEMBERS=(3)
  PEERS=(--smoke --rows mlp process --steps 20) LIMIT=2000
else
  DEMO=() CASES=(mlp20x100:3 cnn:1) MODELS=(mlp3x256 cnn) MEMBERS=(3 15)
  # 3 repeats: the first lease's 5, with the process row, ran past 150 s.
  PEERS=(--steps 429 --repeats 3) LIMIT=20000
fi

# Live too (a run killed at its limit still shows how far it got); the
# summary is printed again, whole, at the end.
note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LIMIT_S CMD...: runs CMD with its output in $OUT/NAME.log, under
# the smaller of LIMIT_S and what is left of the budget.
step() {
  local name=$1 limit=$2 left
  shift 2
  left=$((END - $(date +%s) - 5))
  ((left < limit)) && limit=$left
  if ((limit < 20)); then
    note "== $name: skipped, $left s of the budget left"
    return
  fi
  local start=$(date +%s%N)
  timeout -k 5 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local ms=$((($(date +%s%N) - start) / 1000000))
  note "== $name: rc $rc, $((ms / 1000)).$((ms % 1000 / 100)) s wall (limit $limit s): $*"
}

run_env() {
  step env 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader; $PY -c 'import jax, jaxlib, flax, optax, importlib.metadata as m;
print(\"jax\", jax.__version__, \"jaxlib\", jaxlib.__version__, \"flax\", flax.__version__, \"optax\", optax.__version__, \"orbax\", m.version(\"orbax-checkpoint\"), jax.devices())'; \
    $PY -c 'import torch; print(\"torch\", torch.__version__, torch.cuda.is_available())'"
  cat "$OUT/env.log" >>"$SUMMARY"
}
# make demo's command, default size; then the same again from the cache.
run_demo() {
  step demo_cold 150 $PY experiments/elu_vs_relu.py ${DEMO[@]+"${DEMO[@]}"} \
    --workdir="$WORK/demo1"
  step demo_cached 90 $PY experiments/elu_vs_relu.py ${DEMO[@]+"${DEMO[@]}"} \
    --workdir="$WORK/demo2"
  for f in demo_cold demo_cached; do
    grep -E "compiled|^\|" "$OUT/$f.log" | head -12 >>"$SUMMARY"
  done
}
run_compile() {
  step compile 120 $PY benchmarks/bench_compile.py --cases "${CASES[@]}"
}
# GPU compile: XLA's kernel autotuning off (fewer timed trial runs per
# program; the chosen kernels may be slower).
run_compile_noautotune() {
  XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_autotune_level=0" \
    step compile_noautotune 120 $PY benchmarks/bench_compile.py \
    --cases "${CASES[@]}"
}
run_members() {
  step members 120 $PY benchmarks/member_policy.py --models "${MODELS[@]}" \
    --members "${MEMBERS[@]}" --epochs 3 --train_limit $LIMIT
}
# vmapped convolutions as patches x batched matmul instead of cuDNN's
# grouped convolution (15 vmapped CNNs ran only 1.39x the loop).
run_members_im2col() {
  step members_im2col 120 $PY benchmarks/member_policy.py --models cnn \
    --members "${MEMBERS[@]}" --epochs 3 --train_limit $LIMIT \
    --set model.conv_impl=im2col
}
run_peers() {
  step peers 200 $PY benchmarks/compare_peers.py "${PEERS[@]}"
}

for s in ${STEPS:-env demo compile members peers}; do
  "run_$s"
done
for f in compile compile_noautotune members members_im2col peers; do
  [[ -f $OUT/$f.log ]] || continue
  echo "-- $f" >>"$SUMMARY"
  grep -v cuda_timer "$OUT/$f.log" | tail -n 14 >>"$SUMMARY"
done
echo
cat "$SUMMARY"
