"""A nonlinear fit's groups: one grouping column ('| Tree') or nested ones ('| Block/Tree'), each
level's groups numbered in sorted order and stacked, outermost level first, as the rows of the
random effects b (the same parameters random at every level, as nlme's ``random = Asym ~ 1 |
Block/Tree``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError


@dataclass(frozen=True)
class GroupLevels:
    """Each level's groups: their keys (a level's values, or the tuples of the columns down to it)."""

    columns: tuple[str, ...]  # outermost first
    keys: tuple[pd.Index, ...]

    @classmethod
    def of(cls, frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[GroupLevels, np.ndarray]:
        """The levels of frame's rows and each row's group at each level as a row of the stacked b
        (n × levels)."""
        codes, keys = [], []
        offset = 0
        for level in range(len(columns)):
            index = _keys(frame, columns[: level + 1])
            level_codes, uniques = index.factorize(sort=True)
            codes.append(level_codes + offset)
            keys.append(uniques)
            offset += len(uniques)
        return cls(tuple(columns), tuple(keys)), np.column_stack(codes)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(k) for k in self.keys)

    def labels(self, level: int) -> pd.Index:
        """A level's groups as nlme labels them: 'B1', and 'B1/T3' below it."""
        keys = self.keys[level]
        labels = keys.astype(str) if level == 0 else ["/".join(map(str, key)) for key in keys]
        return pd.Index(labels, name=self.columns[level])

    def rows_of(self, frame: pd.DataFrame, down_to: int) -> np.ndarray:
        """Each of frame's rows' groups at the levels above down_to (n × levels; −1, b's appended
        zero row, for a group the fit has not seen and for the levels below)."""
        missing = [c for c in self.columns[:down_to] if c not in frame]
        if missing:
            raise DataError(f"newdata lacks the group column '{missing[0]}' (level={down_to})")
        rows = np.full((len(frame), len(self.columns)), -1, dtype=np.intp)
        offset = 0
        for level in range(down_to):
            found = self.keys[level].get_indexer(_keys(frame, self.columns[: level + 1]))
            rows[:, level] = np.where(found >= 0, found + offset, -1)
            offset += len(self.keys[level])
        return rows


def _keys(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Index:
    """The rows' values of one column (an Index), or of several (a MultiIndex of tuples)."""
    if len(columns) == 1:
        return pd.Index(frame[columns[0]])
    return pd.MultiIndex.from_frame(frame[list(columns)])
