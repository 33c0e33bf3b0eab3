"""Progress reports of the long-running commands (fits, training, folders of files).

On a terminal they are tqdm bars; when stderr is not a terminal (a log file, a pipe, CI)
they degrade to a plain line every ``every`` seconds and a last one at the end, instead
of hundreds of carriage-return updates.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """``with Progress(total, "fit", unit="step") as bar: bar.update(loss=0.3)``.

    Args:
        total: expected number of updates (None when unknown).
        desc: what is progressing, e.g. ``"fit"``.
        unit: the name of one update.
        enabled: False prints nothing (library calls with ``progress=False``).
        every: seconds between plain lines when stderr is not a terminal.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "step",
        enabled: bool = True,
        every: float = 10.0,
        file: TextIO | None = None,
    ) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.every, self.file = every, file or sys.stderr
        self.n, self.info = 0, ""
        self._bar: Any = None
        self._start = self._shown = time.perf_counter()
        if enabled and self.file.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.file, leave=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, **info: Any) -> None:
        """Advance by ``n``; keyword values (``loss=0.3``) are shown beside the count."""
        self.n += n
        if info:
            self.info = ", ".join(f"{k} {_fmt(v)}" for k, v in info.items())
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if info:
                self._bar.set_postfix_str(self.info, refresh=False)
            return
        now = time.perf_counter()
        if now - self._shown >= self.every:
            self._shown = now
            self._line()

    def write(self, text: str) -> None:
        """Print a message without breaking the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.n:
            self._line()
        self.enabled = False

    def _line(self) -> None:
        count = f"{self.n}/{self.total}" if self.total else str(self.n)
        elapsed = time.perf_counter() - self._start
        info = f", {self.info}" if self.info else ""
        print(
            f"{self.desc}: {count} {self.unit}s{info} ({elapsed:.0f} s)", file=self.file, flush=True
        )


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
