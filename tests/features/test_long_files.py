"""Ten minutes at 48 kHz in bounded memory."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_ten_minutes_at_48k_run_in_bounded_memory():
    """Features of a 10-minute file: peak memory stays a few input copies (chunked frames)."""
    import subprocess
    import sys

    code = (
        "import torch, math\n"
        "from ddsp.features import f0, loudness\n"
        "x = torch.randn(1, 48_000 * 600) * 0.1\n"
        "def kib(field):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(field + ':'): return int(line.split()[1])\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "base = kib('VmRSS')\n"
        "hz, v = f0(x, 48_000)\n"
        "db = loudness(x, 48_000)\n"
        "assert hz.shape == v.shape == db.shape == (1, 150_000)\n"
        "assert torch.isfinite(db).all() and (v < 0.5).float().mean() > 0.99\n"
        "print((kib('VmHWM') - base) * 1024 / x.numel() / 4)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    copies = float(run.stdout.strip().splitlines()[-1])
    assert copies < 6, f"peak memory {copies:.1f} input copies"  # unchunked: over 20
