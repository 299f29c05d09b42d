"""Write an N-times copy of an export folder, shifting every id per copy (benchmark input).

    python benchmarks/scaled_copy.py SOURCE_DIR OUT_DIR --copies 10

Copy k adds k x 1,000,000 to customer, product and order ids, so keys stay unique and every
relationship holds, exactly as in the source.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

SHIFT = 1_000_000
ID_COLUMNS = {
    "CustomerDetails.csv": ["CUSTOMER_ID"],
    "ProductDetails.csv": ["PRODUCT_ID"],
    "OrderDetails.csv": ["ORDER_CUSTOMER_ID", "ORDER_ID", "ORDER_PRODUCT_ID"],
    "DeliveryDetails.csv": ["ORDER_ID"],
}


def scaled_copy(source: Path, out: Path, copies: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for name, ids in ID_COLUMNS.items():
        path = source / name
        columns = [c for (c,) in con.execute(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv(?, all_varchar = true))", [str(path)]
        ).fetchall()]
        shifted = ", ".join(
            f"CAST(CAST(\"{c}\" AS BIGINT) + k * {SHIFT} AS VARCHAR) AS \"{c}\"" if c in ids else f"\"{c}\""
            for c in columns
        )
        target = str(out / name).replace("'", "''")
        con.execute(
            f"COPY (SELECT {shifted} FROM read_csv(?, all_varchar = true), range({copies}) AS r(k) "
            f"ORDER BY k) TO '{target}' (HEADER, DELIMITER ',', QUOTE '\"')",
            [str(path)],
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    scaled_copy(args.source, args.out, args.copies)
