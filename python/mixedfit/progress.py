"""Progress of long loops (bootstrap refits, profiles): a tqdm bar when tqdm is installed, else a
line on standard error at every tenth of the work."""

from __future__ import annotations

import sys
import threading


class Progress:
    """Counts done steps out of total; silent unless enabled. Safe to advance from threads."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.done = total, label, 0
        self._lock = threading.Lock()
        self._bar = None
        self._next_line = 0.1
        self.enabled = bool(enabled) and total > 0
        if self.enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=label)

    def advance(self, steps: int = 1) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.done += steps
            if self._bar is not None:
                self._bar.update(steps)
            elif self.done >= self._next_line * self.total:
                print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)
                while self._next_line * self.total <= self.done:
                    self._next_line += 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
