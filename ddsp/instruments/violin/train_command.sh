#!/bin/bash
# How the shipped violin was made (CPU, one thread; about 3 h 30 min on 2 shared cores).
# Needs FluidSynth and /usr/share/sounds/sf2/FluidR3_GM.sf2 (Debian: fluid-soundfont-gm).
set -euo pipefail
WORK=${1:-violin_work}
mkdir -p "$WORK/audio"

# 1. render 72 random violin melodies (GM program 40), 20 s each, deterministic by seed:
#    MIDI 55-88; every third file legato (notes 0.5-2.5 s, else 0.2-1.2 s); every fourth
#    file with velocities redrawn over 40-127
python - "$WORK" <<'PY'
import sys
from dataclasses import replace
from pathlib import Path
import numpy as np
import soundfile as sf
from ddsp.data import random_melody, render_midi
out = Path(sys.argv[1]) / "audio"
for i in range(72):
    seed = 1000 + i
    lo, hi = (0.5, 2.5) if i % 3 == 2 else (0.2, 1.2)
    notes = random_melody(seed, 20.0, 55, 88, min_note=lo, max_note=hi)
    if i % 4 == 3:
        rng = np.random.default_rng(seed + 50_000)
        notes = [replace(n, velocity=int(rng.integers(40, 128))) for n in notes]
    sf.write(out / f"violin_{i:03d}.wav", render_midi(notes, 40, 16_000), 16_000)
PY

# 2. five 4 s examples of each file: 360 examples, 24.0 min at 16 kHz, 250 frames/s
ddsp prepare "$WORK/audio" --out "$WORK/data" --sample-rate 16000 --example-seconds 4

# 3. 5000 steps of batch 8 (every 20th example held out for validation: 18 examples)
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
ddsp train "$WORK/data" --out "$WORK/run" \
  --set model.hidden=256 --set model.gru=256 --set model.layers=3 \
  --set model.n_harmonics=60 --set model.n_bands=65 --set model.reverb_seconds=1.0 \
  --set model.z_dim=0 --set train.lr=0.002 --set train.batch_size=8 \
  --set train.steps=5000 --set train.val_every=250 --set train.checkpoint_every=250 \
  --set train.log_every=25 --set train.keep=3 --threads 1

# 4. the run's best checkpoint as an instrument file (float16 weights)
python - "$WORK" <<'PY'
import sys
from pathlib import Path
from ddsp.live import load_instrument, save_instrument
run = Path(sys.argv[1]) / "run"
inst = load_instrument(run)
state = {"sample_rate": inst.sample_rate, "frame_rate": inst.frame_rate,
         "statistics": inst.statistics}
save_instrument(inst.model, state, Path(sys.argv[1]) / "instrument.pt.xz")
PY
