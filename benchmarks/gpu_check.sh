#!/usr/bin/env bash
# GPU check for ganzoo, for one borrowed GPU (sized for an H100: about 3 minutes; every step is
# capped so the whole script ends within BUDGET=225 s plus start-up of the last command).
#
#   bash benchmarks/gpu_check.sh            # from the repository root; results in $OUT
#
# 1. makes ganzoo importable WITHOUT network or a build backend (the device image has torch and
#    every runtime dependency but not hatchling): the repo and plugins/ go on PYTHONPATH and a
#    small ganzoo-*.dist-info carries the entry points, so the plugins register as installed;
# 2. `ganzoo train dcgan --device cuda` at 64x64, batch 128, a fixed number of steps;
# 3. the same under torchrun with 1 process: NCCL process group, DDP, SyncBatchNorm, a
#    checkpoint, a torchrun resume, and that checkpoint resumed by a plain process;
# 4. `python benchmarks/train_speed.py --device cuda` if the script exists.
# Every step has its own timeout, so one failure does not eat the others' time. The figures land
# in $OUT/summary.txt (img/s medians from metrics.jsonl), logs in $OUT/*.log.
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
BUDGET=${BUDGET:-225}  # seconds for everything, so the check stays under 4 minutes
elapsed() { echo $(( $(date +%s) - T0 ))s; }
# a step's timeout: its own limit, cut to what is left of the budget (at least 5 s)
tmo() { local t=$1 left=$(( BUDGET - ($(date +%s) - T0) )); (( left < t )) && t=$left; (( t < 5 )) && t=5; echo "$t"; }

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
r = [x["img_per_s"] for x in rows[1:]] or [rows[-1]["img_per_s"]]
print(f"{statistics.median(r):.0f} img/s (median of {len(r)} intervals), "
      f"final d_loss {rows[-1]['d_loss']:.3f} g_loss {rows[-1]['g_loss']:.3f}")
EOF
}
TRAIN=(train dcgan --device cuda --batch-size 128 --set image_size=64 --set log_every=50
       --sample-every 0 --quiet)

# -- 2. plain process ------------------------------------------------------------------------
say "== 2. ganzoo train dcgan --device cuda, 64x64, batch 128, 600 steps"
if timeout "$(tmo 75)" $PY -m ganzoo "${TRAIN[@]}" --steps 600 --checkpoint-every 0 \
     --out "$OUT/plain" > "$OUT/plain.log" 2>&1; then
  say "plain: $(rate "$OUT/plain") ($(elapsed))"
else
  say "FAILED plain (rc $?): $(tail -3 "$OUT/plain.log")"
fi

# -- 3. torchrun, 1 process: NCCL, DDP, SyncBatchNorm, checkpoints and resume ----------------
RUN=(-m torch.distributed.run --standalone --nproc-per-node 1 -m ganzoo)
say "== 3. torchrun --nproc-per-node 1 (NCCL, DDP, sync_batchnorm), 400 steps + resume"
if timeout "$(tmo 75)" $PY "${RUN[@]}" "${TRAIN[@]}" --steps 400 --checkpoint-every 200 \
     --set sync_batchnorm=true --out "$OUT/ddp" > "$OUT/ddp.log" 2>&1; then
  say "torchrun: $(rate "$OUT/ddp") ($(elapsed))"
  if timeout "$(tmo 45)" $PY "${RUN[@]}" train --resume "$OUT/ddp" --steps 500 --quiet \
       > "$OUT/ddp_resume.log" 2>&1; then
    say "torchrun resume to 500: $(cat "$OUT/ddp/checkpoints/latest") ($(elapsed))"
  else
    say "FAILED torchrun resume (rc $?): $(tail -3 "$OUT/ddp_resume.log")"
  fi
  if timeout "$(tmo 45)" $PY -m ganzoo train --resume "$OUT/ddp" --steps 520 --quiet \
       > "$OUT/ddp_single.log" 2>&1; then
    say "plain-process resume of the torchrun run: $(cat "$OUT/ddp/checkpoints/latest")"
  else
    say "FAILED plain resume of the torchrun checkpoint (rc $?): $(tail -3 "$OUT/ddp_single.log")"
  fi
else
  say "FAILED torchrun (rc $?): $(tail -5 "$OUT/ddp.log")"
fi

# -- 4. the lead's benchmark -----------------------------------------------------------------
if [ -f benchmarks/train_speed.py ]; then
  say "== 4. python benchmarks/train_speed.py --device cuda ($(elapsed))"
  if timeout "$(tmo 100)" $PY benchmarks/train_speed.py --device cuda > "$OUT/train_speed.log" 2>&1; then
    tail -15 "$OUT/train_speed.log" | tee -a "$SUMMARY"
  else
    say "FAILED train_speed (rc $?): $(tail -5 "$OUT/train_speed.log")"
  fi
  [ -f benchmarks/RESULTS.md ] && cp benchmarks/RESULTS.md "$OUT/RESULTS.md"
fi
rm -rf "$OUT/site" "$OUT"/*/checkpoints  # keep logs, metrics and plots; weights stay behind
say "== done in $(elapsed)"
