#!/usr/bin/env bash
# GPU check for ganzoo, for one borrowed GPU: every GPU figure of issue #19 (the fast path) and the
# GPU tests in one run of about 6 minutes (each step is capped, and the whole script ends within
# BUDGET=420 s plus the start-up of its last command).
#
#   bash benchmarks/gpu_check.sh                   # from the repository root; results in $OUT
#   GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh   # the same command lines on the CPU, tiny sizes
#
# 1. makes ganzoo importable WITHOUT network or a build backend (the device image has torch and
#    every runtime dependency but not hatchling): the repo and plugins/ go on PYTHONPATH and a
#    small ganzoo-*.dist-info carries the entry points, so the plugins register as installed;
# 2. the GPU tests (pytest -m gpu tests/test_fastpath.py: graph vs eager losses, resume after
#    capture, uncapturable models fall back with their line, bf16 sampling, Gatys graphs) and
#    the conformance kit's capture check on every built-in GAN;
# 3. DCGAN-64 batch 128: the plain PyTorch-examples loop vs ganzoo eager, bf16 + channels_last +
#    fused Adam without graphs, and the default fast path (CUDA graphs), alternating;
# 4. the same at batch 1,024 (plain, eager, fast path);
# 5. Gatys 512 px, 300 steps: the tutorial loop vs ganzoo, and ganzoo eager vs CUDA graphs for
#    L-BFGS and Adam;
# 6. StyleGAN-lite (gpu64 preset) and MSG-GAN at 64 px: eager vs fast path;
# 7. `ganzoo train dcgan --device cuda`, and under torchrun with 1 process (NCCL, DDP,
#    SyncBatchNorm, a checkpoint, a torchrun resume, and that checkpoint resumed by a plain
#    process).
# Every step has its own timeout, so one failure does not eat the others' time. The figures land
# in $OUT/summary.txt, logs in $OUT/*.log; the benchmarks append to benchmarks/RESULTS.md, which
# is copied to $OUT/RESULTS.md at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/ganzoo-gpu-check}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
T0=$(date +%s)
DRY=${GPU_CHECK_DRY:-0}
if [ "$DRY" = 1 ]; then  # check the command lines on the CPU: tiny sizes, nothing recorded
  DEV=cpu; B128=8; B1024=16; BSG=2; STEPS=2; WARM=1; STEPS_BIG=1; REP=1; GSIZE=64; GSTEPS=4
  NOREC=--no-record; GNOREC=--no-append; TRAIN_STEPS=4; BUDGET=${BUDGET:-1500}; SCALE=5
else
  DEV=cuda; B128=128; B1024=1024; BSG=32; STEPS=400; WARM=25; STEPS_BIG=100; REP=3; GSIZE=512
  GSTEPS=300; NOREC=; GNOREC=; TRAIN_STEPS=600; BUDGET=${BUDGET:-420}; SCALE=1  # < 7 min
fi
elapsed() { echo $(( $(date +%s) - T0 ))s; }
# a step's timeout: its own limit (SCALE times it on the CPU), cut to what is left of the budget
# (at least 5 s)
tmo() { local t=$(( $1 * SCALE )) left=$(( BUDGET - ($(date +%s) - T0) )); (( left < t )) && t=$left; (( t < 5 )) && t=5; echo "$t"; }

say "== machine"
nvidia-smi -L 2>&1 | tee -a "$SUMMARY"
$PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, \
'cuda', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'NO GPU')" \
  2>&1 | tee -a "$SUMMARY"

# -- 1. ganzoo importable, plugins registered ------------------------------------------------
if [ "${GPU_CHECK_FORCE_PATH:-0}" = 1 ] || ! $PY -c "import ganzoo, ganzoo_dcgan" 2>/dev/null; then
  SITE="$OUT/site"
  mkdir -p "$SITE"
  $PY - "$REPO" "$SITE" <<'EOF'
import pathlib, sys, tomllib
repo, site = map(pathlib.Path, sys.argv[1:])
meta = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
info = site / f"ganzoo-{meta['version']}.dist-info"
info.mkdir(parents=True, exist_ok=True)
(info / "METADATA").write_text(
    f"Metadata-Version: 2.1\nName: ganzoo\nVersion: {meta['version']}\n"
)
groups = dict(meta.get("entry-points", {}))
groups["console_scripts"] = meta.get("scripts", {})
text = "".join(
    f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
    for g, items in groups.items()
)
(info / "entry_points.txt").write_text(text)
tops = ["ganzoo"] + [p.name for p in (repo / "plugins").iterdir() if (p / "__init__.py").exists()]
(info / "top_level.txt").write_text("\n".join(tops) + "\n")
print("entry points:", ", ".join(groups.get("ganzoo", {})))
EOF
  export PYTHONPATH="$SITE:$REPO:$REPO/plugins${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! $PY -m ganzoo list > "$OUT/list.log" 2>&1; then
  say "FAILED: ganzoo is not importable (see list.log)"; cat "$OUT/list.log"; exit 1
fi
say "ganzoo ok: $(grep -c . "$OUT/list.log") lines in ganzoo list ($(elapsed))"


# median img/s of a run's metrics.jsonl, leaving out the first logged interval
rate() {
  $PY - "$1" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if l.strip()]
rows = [x for x in rows if "img_per_s" in x]  # health records carry no speed
r = [x["img_per_s"] for x in rows[1:]] or [rows[-1]["img_per_s"]]
print(f"{statistics.median(r):.0f} img/s (median of {len(r)} intervals), "
      f"final d_loss {rows[-1]['d_loss']:.3f} g_loss {rows[-1]['g_loss']:.3f}")
EOF
}
TRAIN=(train dcgan --device "$DEV" --batch-size "$B128" --set image_size=64 --set log_every=50
       --sample-every 0 --quiet)

# -- 2. the GPU tests and the kit's capture check --------------------------------------------
say "== 2. GPU tests (pytest -m gpu tests/test_fastpath.py) and the capture check ($(elapsed))"
if $PY -c "import pytest" 2>/dev/null; then
  TESTS=("$PY" -m pytest -q -p no:cacheprovider -m gpu tests/test_fastpath.py)
  [ "$DRY" = 1 ] && TESTS+=(--co)
else  # no pytest on the image: the same test functions through a small runner
  TESTS=("$PY" benchmarks/gpu_tests.py)
fi
if timeout "$(tmo 150)" "${TESTS[@]}" > "$OUT/gpu_tests.log" 2>&1; then
  say "gpu tests: $(tail -1 "$OUT/gpu_tests.log")"
else
  say "FAILED gpu tests (rc $?): $(grep -E '^(FAILED|ERROR)|passed|failed' "$OUT/gpu_tests.log" | tail -8)"
fi
timeout "$(tmo 60)" "$PY" - > "$OUT/capture_kit.log" 2>&1 <<'EOF'
import tempfile

import ganzoo
from ganzoo.testing import check_model

for name in ganzoo.list_models():
    if ganzoo.get_spec(name).kind != "gan":
        continue
    with tempfile.TemporaryDirectory() as tmp:
        r = check_model(name, workdir=tmp, only=["capture"]).results["capture"]
    print(f"capture check {name}: {r.status} {r.message}".rstrip(), flush=True)
EOF
grep "capture check" "$OUT/capture_kit.log" | tee -a "$SUMMARY" \
  || say "FAILED capture kit: $(tail -3 "$OUT/capture_kit.log")"

# -- 3-4. DCGAN-64: the plain loop vs ganzoo eager, amp without graphs, the fast path --------
cd "$REPO/benchmarks"
say "== 3. DCGAN-64 batch $B128: plain vs ganzoo eager / amp / fast path ($(elapsed))"
if timeout "$(tmo 120)" "$PY" train_speed.py --device "$DEV" --batch-size "$B128" \
     --steps "$STEPS" --warmup "$WARM" --repeats "$REP" --variants plain,eager,amp,ganzoo \
     $NOREC > "$OUT/dcgan128.log" 2>&1; then
  grep -E "img/s  ratio|load average" "$OUT/dcgan128.log" | tee -a "$SUMMARY"
else
  say "FAILED dcgan128 (rc $?): $(tail -5 "$OUT/dcgan128.log")"
fi
say "== 4. DCGAN-64 batch $B1024: plain vs ganzoo eager / fast path ($(elapsed))"
if timeout "$(tmo 90)" "$PY" train_speed.py --device "$DEV" --batch-size "$B1024" \
     --steps "$STEPS_BIG" --warmup "$WARM" --repeats "$REP" --variants plain,eager,ganzoo \
     $NOREC > "$OUT/dcgan1024.log" 2>&1; then
  grep -E "img/s  ratio|load average" "$OUT/dcgan1024.log" | tee -a "$SUMMARY"
else
  say "FAILED dcgan1024 (rc $?): $(tail -5 "$OUT/dcgan1024.log")"
fi

# -- 5. Gatys 512 px, 300 steps -------------------------------------------------------------
say "== 5. Gatys $GSIZE px, $GSTEPS steps: tutorial vs ganzoo; eager vs graphs ($(elapsed))"
if timeout "$(tmo 120)" "$PY" stylize_speed.py --device "$DEV" --size "$GSIZE" \
     --steps "$GSTEPS" --repeats 2 --fast-path $GNOREC > "$OUT/gatys.log" 2>&1; then
  grep -E "s/image|per image|first objective|difference" "$OUT/gatys.log" | tail -8 \
    | tee -a "$SUMMARY"
else
  say "FAILED gatys (rc $?): $(tail -5 "$OUT/gatys.log")"
fi

# -- 6. StyleGAN-lite and MSG-GAN at 64 px ----------------------------------------------------
for ARCH in stylegan_lite msggan; do
  say "== 6. $ARCH 64 px batch $BSG: eager vs fast path ($(elapsed))"
  if timeout "$(tmo 60)" "$PY" train_speed.py --device "$DEV" --arch "$ARCH" \
       --batch-size "$BSG" --steps "$STEPS_BIG" --warmup "$WARM" --repeats 2 \
       --variants eager,ganzoo $NOREC > "$OUT/$ARCH.log" 2>&1; then
    grep -E "img/s  ratio" "$OUT/$ARCH.log" | tee -a "$SUMMARY"
  else
    say "FAILED $ARCH (rc $?): $(tail -5 "$OUT/$ARCH.log")"
  fi
done
cd "$REPO"

# -- 7. ganzoo train, plain process and torchrun ---------------------------------------------
say "== 7. ganzoo train dcgan --device $DEV, 64x64, batch $B128, $TRAIN_STEPS steps ($(elapsed))"
if timeout "$(tmo 45)" "$PY" -m ganzoo "${TRAIN[@]}" --steps "$TRAIN_STEPS" \
     --checkpoint-every 0 --out "$OUT/plain" > "$OUT/plain.log" 2>&1; then
  say "plain: $(rate "$OUT/plain") ($(elapsed))"
else
  say "FAILED plain (rc $?): $(tail -3 "$OUT/plain.log")"
fi
if [ "$DRY" != 1 ]; then
  RUN=(-m torch.distributed.run --standalone --nproc-per-node 1 -m ganzoo)
  say "== 7b. torchrun --nproc-per-node 1 (NCCL, DDP, sync_batchnorm), 400 steps + resume"
  if timeout "$(tmo 60)" "$PY" "${RUN[@]}" "${TRAIN[@]}" --steps 400 --checkpoint-every 200 \
       --set sync_batchnorm=true --out "$OUT/ddp" > "$OUT/ddp.log" 2>&1; then
    say "torchrun: $(rate "$OUT/ddp") ($(elapsed))"
    if timeout "$(tmo 40)" "$PY" "${RUN[@]}" train --resume "$OUT/ddp" --steps 500 --quiet \
         > "$OUT/ddp_resume.log" 2>&1; then
      say "torchrun resume to 500: $(cat "$OUT/ddp/checkpoints/latest") ($(elapsed))"
    else
      say "FAILED torchrun resume (rc $?): $(tail -3 "$OUT/ddp_resume.log")"
    fi
    if timeout "$(tmo 40)" "$PY" -m ganzoo train --resume "$OUT/ddp" --steps 520 --quiet \
         > "$OUT/ddp_single.log" 2>&1; then
      say "plain-process resume of the torchrun run: $(cat "$OUT/ddp/checkpoints/latest")"
    else
      say "FAILED plain resume of the torchrun checkpoint (rc $?): $(tail -3 "$OUT/ddp_single.log")"
    fi
  else
    say "FAILED torchrun (rc $?): $(tail -5 "$OUT/ddp.log")"
  fi
fi
if [ "$DRY" != 1 ] && [ -f benchmarks/RESULTS.md ]; then cp benchmarks/RESULTS.md "$OUT/RESULTS.md"; fi
# keep logs, metrics and plots; weights stay behind (guarded: never outside a set $OUT)
[ -n "$OUT" ] && [ "$OUT" != / ] && rm -rf "${OUT:?}/site" "${OUT:?}"/*/checkpoints
say "== done in $(elapsed)"
