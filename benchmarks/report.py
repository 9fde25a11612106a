"""The report every side-by-side benchmark writes: benchmarks/results/<name>.md with a title, a
note on what was run, and a markdown table with one row per model, built from the rows'
dictionaries by the columns' formats (shared here, so that a speed-up or a criterion difference
reads alike in every table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[dict], str]
    left: bool = False  # text columns are left-aligned, numbers right-aligned


def text(key: str, header: str) -> Column:
    return Column(header, lambda r: str(r[key]), left=True)


def count(key: str, header: str) -> Column:
    return Column(header, lambda r: f"{r[key]:,}")


def seconds(key: str, header: str) -> Column:
    return Column(header, lambda r: f"{r[key]:.3f}")


def speedup(key: str = "speedup", header: str = "speed-up") -> Column:
    return Column(header, lambda r: f"{r[key]:.1f}×")


def difference(key: str, header: str) -> Column:
    """A criterion's difference from the reference package's (near 0: the same optimum)."""
    return Column(header, lambda r: f"{r[key]:.1e}")


def evaluations(header: str) -> Column:
    """The optimizer's evaluations and, in parentheses, the parameters it searched over."""
    return Column(header, lambda r: f"{r['evaluations']} ({r['parameters']})")


def write_report(name: str, title: str, note: str, columns: Sequence[Column], rows: Sequence[dict]) -> str:
    """Write and print results/<name>.md; returns its text."""
    lines = [
        f"# {title}",
        "",
        note,
        "",
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join("---" if c.left else "---:" for c in columns) + "|",
        *("| " + " | ".join(c.cell(r) for c in columns) + " |" for r in rows),
    ]
    report = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(report)
    print(report, end="")
    return report
