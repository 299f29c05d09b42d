"""Placing defects: how many of which kind a file gets, and writing them into its CSV records.

``DefectPlan`` spreads a file's defects over its chunks at the dirty rate; ``inject`` applies
them to a chunk's records (``insightflow.generate.defects`` holds what each kind does) and returns
the manifest entries, with the physical line of each.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from insightflow.generate.defects import DefectContext, DefectKind, Edit


class DefectPlan:
    """How many defects of which kinds one file gets, spread over its chunks at the dirty rate."""

    def __init__(self, file_name: str, kinds: tuple[DefectKind, ...], rate: float) -> None:
        self.file_name, self.kinds, self.rate = file_name, kinds, rate
        self.rows_seen = 0
        self.placed = 0

    def kinds_for(
        self, rng: np.random.Generator, chunk_rows: int, candidates: int
    ) -> list[DefectKind]:
        """The kinds of this chunk's defects: balanced over the kinds, in random order."""
        self.rows_seen += chunk_rows
        wanted = max(round(self.rate * self.rows_seen) - self.placed, 0)
        count = min(wanted, candidates)
        codes = rng.permutation((self.placed + np.arange(count)) % len(self.kinds))
        self.placed += count
        return [self.kinds[c] for c in codes]


def inject(
    rng: np.random.Generator,
    records: pa.Array,
    columns: list[pa.Array],
    targets: np.ndarray,
    kinds: list[DefectKind],
    ctx: DefectContext,
    file_name: str,
    first_line: int,
) -> tuple[pa.Array, list[dict]]:
    """Apply ``kinds[i]`` to row ``targets[i]`` of ``records``; the records and manifest entries.

    ``first_line`` is the physical line of ``records[0]``.
    """
    if len(targets) == 0:
        return records, []
    order = np.argsort(targets, kind="stable")
    targets = np.asarray(targets)[order]
    kinds = [kinds[i] for i in order]
    count = len(records)
    target_fields = [pc.take(column, pa.array(targets)).to_pylist() for column in columns]
    u, later = rng.random(len(targets)), rng.random(len(targets))
    replaced_rows: list[int] = []
    replaced_text: list[str] = []
    inserted_before: list[int] = []
    inserted_text: list[str] = []
    located: list[tuple[str, int, DefectKind, Edit]] = []  # ("row" | "insert", index, kind, edit)
    for t, (row, kind) in enumerate(zip(targets.tolist(), kinds, strict=True)):
        edit = kind.action([values[t] for values in target_fields], float(u[t]), ctx)
        if edit.replace is not None:
            replaced_rows.append(row)
            replaced_text.append(",".join(edit.replace))
            located.append(("row", row, kind, edit))
        if edit.insert is not None:
            before = row + 1 + (int(later[t] * (count - row)) if edit.insert_later else 0)
            inserted_before.append(min(before, count))
            inserted_text.append(",".join(edit.insert))
            located.append(("insert", len(inserted_text) - 1, kind, edit))
    if replaced_rows:
        mask = np.zeros(count, dtype=bool)
        mask[replaced_rows] = True
        records = pc.replace_with_mask(
            records, pa.array(mask), pa.array(replaced_text, pa.string())
        )
    position = np.arange(count)
    inserted_position = np.empty(0, dtype=np.int64)
    if inserted_text:
        combined = pa.concat_arrays(
            [records.cast(pa.string()), pa.array(inserted_text, pa.string())]
        )
        keys = np.concatenate([2 * np.arange(count) + 1, 2 * np.asarray(inserted_before)])
        final_order = np.argsort(keys, kind="stable")
        where = np.empty(len(keys), dtype=np.int64)
        where[final_order] = np.arange(len(keys))
        position, inserted_position = where[:count], where[count:]
        records = combined.take(pa.array(final_order))
    entries = []
    for place, index, kind, edit in located:
        line = first_line + int(position[index] if place == "row" else inserted_position[index])
        entries.append(
            {
                "file": file_name,
                "line": line,
                "kind": kind.kind,
                "column": edit.column or kind.column,
                "expect": kind.expect,
                "reason": kind.reason,
            }
        )
    return records, entries
