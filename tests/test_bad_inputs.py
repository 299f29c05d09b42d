"""A matrix of bad inputs: each ends in a successful run with the right quarantine, or in one clear
line naming the file and the problem — never a traceback, never a changed published table."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from insightflow import InsightFlowError, Lakehouse
from tests.exports import CUSTOMERS, DELIVERIES, ORDERS, PRODUCTS, csv_text, write_export

BOM = b"\xef\xbb\xbf"


def _write(folder: Path, name: str, content: bytes) -> None:
    (folder / name).write_bytes(content)


def _text(folder: Path, name: str) -> str:
    return (folder / name).read_bytes().decode("utf-8-sig")


@dataclass
class Case:
    """How to spoil a good export, and what must come out of it."""

    spoil: Callable[[Path], None]
    error: tuple[str, ...] = ()  # fragments of the one-line error; empty = the run succeeds
    quarantined: tuple[tuple[str, int, str], ...] = ()  # (table, line, reason) expected
    check: Callable[[Lakehouse], None] | None = None


def _customers(rows: list[list[str]], header: list[str] | None = None) -> Callable[[Path], None]:
    return lambda d: _write(d, "CustomerDetails.csv", BOM + csv_text("customers", rows, header).encode())


def _deliveries(rows: list[list[str]]) -> Callable[[Path], None]:
    return lambda d: _write(d, "DeliveryDetails.csv", BOM + csv_text("deliveries", rows).encode())


def _orders_text(transform: Callable[[str], str]) -> Callable[[Path], None]:
    return lambda d: _write(d, "OrderDetails.csv", BOM + transform(_text(d, "OrderDetails.csv")).encode())


def _sql_value(sql: str, expected: object) -> Callable[[Lakehouse], None]:
    def check(lake: Lakehouse) -> None:
        assert lake.sql(sql)[1] == [(expected,)]
    return check


HEADER = list(CUSTOMERS and ["CUSTOMER_ID", "CUSTOMER_FNAME", "CUSTOMER_LNAME", "CUSTOMER_SEGMENT",
                             "CUSTOMER_CITY", "CUSTOMER_STATE", "CUSTOMER_COUNTY", "CUSTOMER_ZIPCODE"])
BIG = "x" * 10_000_000

CASES: dict[str, Case] = {
    "empty file": Case(lambda d: _write(d, "OrderDetails.csv", b""), ("OrderDetails.csv", "empty")),
    "only a byte-order mark": Case(lambda d: _write(d, "OrderDetails.csv", BOM), ("OrderDetails.csv", "blank")),
    "header only": Case(_customers([]), ("CustomerDetails.csv", "no data rows")),
    "required column missing": Case(
        _customers([r[:3] + r[4:] for r in CUSTOMERS], HEADER[:3] + HEADER[4:]),
        ("CustomerDetails.csv", "CUSTOMER_SEGMENT"),
    ),
    "required column renamed": Case(
        _orders_text(lambda t: t.replace("ORDER_QUANTITY", "ORDER_QTY", 1)), ("OrderDetails.csv", "ORDER_QUANTITY")
    ),
    "duplicated column": Case(
        _customers([r + [r[1]] for r in CUSTOMERS], HEADER + ["CUSTOMER_FNAME"]),
        ("CustomerDetails.csv", "duplicated column CUSTOMER_FNAME"),
    ),
    "extra column": Case(
        _customers([r + ["gold"] for r in CUSTOMERS], HEADER + ["LOYALTY_TIER"]),
        check=_sql_value("SELECT count(DISTINCT loyalty_tier) FROM raw.customers", 1),
    ),
    "a column twice in the header, in another case": Case(
        _customers([r + [f"{r[1]}x"] for r in CUSTOMERS], HEADER + ["customer_fname"]),
        ("CustomerDetails.csv", "duplicated column CUSTOMER_FNAME and customer_fname"),
    ),
    "a column that a published figure needs missing": Case(
        lambda d: _write(d, "OrderDetails.csv", BOM + csv_text(
            "orders", [r[:6] + r[7:] for r in ORDERS],
            [h for h in csv_text("orders", []).strip().split(",") if h != "PROFIT_RATIO"]).encode()),
        ("OrderDetails.csv", "PROFIT_RATIO is missing", "net profit"),
    ),
    "a NUL byte inside a value": Case(
        lambda d: _write(d, "ProductDetails.csv", BOM + csv_text(
            "products", [[PRODUCTS[0][0], "Smart\x00watch", *PRODUCTS[0][2:]], *PRODUCTS[1:]]).encode()),
        quarantined=(("curated.product_dim", 2, "invalid_value"),),
        check=_sql_value("SELECT count(*) FROM curated.product_dim WHERE contains(product_name, chr(0))", 0),
    ),
    "optional column missing": Case(
        _customers([r[:4] + r[5:] for r in CUSTOMERS], HEADER[:4] + HEADER[5:]),
        check=_sql_value("SELECT count(*) FROM curated.customer_dim WHERE customer_city IS NULL", len(CUSTOMERS)),
    ),
    "header in lower case with spaces": Case(
        _customers(CUSTOMERS, [f" {h.lower()} " for h in HEADER]),
        check=_sql_value("SELECT count(*) FROM curated.customer_dim", len(CUSTOMERS)),
    ),
    "wrong delimiter": Case(
        lambda d: _write(d, "ProductDetails.csv", BOM + _text(d, "ProductDetails.csv").replace(",", ":").encode()),
        ("ProductDetails.csv", "PRODUCT_ID"),
    ),
    "semicolon delimiter": Case(
        lambda d: _write(d, "ProductDetails.csv", BOM + _text(d, "ProductDetails.csv").replace(",", ";").encode()),
        check=_sql_value("SELECT count(*) FROM curated.product_dim", len(PRODUCTS)),
    ),
    "quoted delimiters": Case(
        _customers([*CUSTOMERS[:-1], [CUSTOMERS[-1][0], "Smith, Jr.", "O\"Hara", *CUSTOMERS[-1][3:]]]),
        check=_sql_value("SELECT customer_fname FROM curated.customer_dim WHERE customer_id = 5", "Smith, Jr."),
    ),
    "embedded newline in a quoted field": Case(
        _customers([[CUSTOMERS[0][0], "Ann\nMarie", *CUSTOMERS[0][2:]], *CUSTOMERS[1:]]),
        check=_sql_value("SELECT count(*) FROM curated.customer_dim", len(CUSTOMERS)),
    ),
    "mixed line endings": Case(
        _orders_text(lambda t: t.replace("\r\n", "\n", 2)),
        check=_sql_value("SELECT count(*) FROM marts.fact_sales", len(ORDERS)),
    ),
    "old Mac CR line endings": Case(
        _orders_text(lambda t: t.replace("\r\n", "\r")),
        check=_sql_value("SELECT count(*) FROM marts.fact_sales", len(ORDERS)),
    ),
    "no byte-order mark": Case(
        lambda d: _write(d, "OrderDetails.csv", _text(d, "OrderDetails.csv").encode()),
        check=_sql_value("SELECT count(*) FROM marts.fact_sales", len(ORDERS)),
    ),
    "UTF-16 with its byte-order mark": Case(
        lambda d: _write(d, "OrderDetails.csv", _text(d, "OrderDetails.csv").encode("utf-16")),
        check=_sql_value("SELECT count(*) FROM marts.fact_sales", len(ORDERS)),
    ),
    "UTF-16 without a byte-order mark": Case(
        lambda d: _write(d, "CustomerDetails.csv", csv_text("customers", [[CUSTOMERS[0][0], "Zoë", *CUSTOMERS[0][2:]],
                                                                          *CUSTOMERS[1:]]).encode("utf-16-le")),
        check=_sql_value("SELECT customer_fname FROM curated.customer_dim WHERE customer_id = 1", "Zoë"),
    ),
    "latin-1 bytes": Case(
        lambda d: _write(d, "CustomerDetails.csv", csv_text("customers", [[*CUSTOMERS[0][:1], "Muñoz",
                                                                             *CUSTOMERS[0][2:]], *CUSTOMERS[1:]]).encode("latin-1")),
        check=_sql_value("SELECT customer_fname FROM curated.customer_dim WHERE customer_id = 1", "Muñoz"),
    ),
    "Windows-1252 quotes and euro": Case(
        lambda d: _write(d, "ProductDetails.csv", csv_text("products", [[PRODUCTS[0][0], "O\u2019Neill \u20ac5 watch",
                                                                         *PRODUCTS[0][2:]], *PRODUCTS[1:]]).encode("cp1252")),
        check=_sql_value("SELECT product_name FROM curated.product_dim WHERE product_id = 1360", "O\u2019Neill \u20ac5 watch"),
    ),
    "latin-1 byte deep in a large file": Case(
        lambda d: _write(d, "OrderDetails.csv", (d / "OrderDetails.csv").read_bytes() + "".join(
            f"\r\n1,{100 + i},1360,1,0,0,0.1,CASH,CLOSED,10" for i in range(40_000)).encode()
            + "\r\n1,99999,1360,1,0,0,0.1,CA\xe9SH,CLOSED,10".encode("latin-1")),
        # its byte-order mark says UTF-8: one byte that is not is a corrupt file, not an encoding
        ("OrderDetails.csv", "cannot be read as utf-8-sig", "byte 0xe9 on line 40008"),
    ),
    "cp1252 byte deep in a large file without a byte-order mark": Case(  # past the crawl's 64 KiB sample
        lambda d: _write(d, "CustomerDetails.csv", csv_text("customers", [
            *CUSTOMERS, *([str(100 + i), "Ann", "Lee", "Consumer", "Caguas", "PR", "Puerto Rico", "725"]
                          for i in range(3000))]).encode()
            + "9999,Mu\xf1oz,Smith,Consumer,Caguas,PR,Puerto Rico,725\r\n".encode("cp1252")),
        check=_sql_value("SELECT customer_fname FROM curated.customer_dim WHERE customer_id = 9999", "Mu\xf1oz"),
    ),
    "UTF-8 and another encoding mixed": Case(
        lambda d: _write(d, "CustomerDetails.csv", csv_text("customers", [[CUSTOMERS[0][0], "Zoë", *CUSTOMERS[0][2:]]])
                         .encode() + "9,Jos\xe9,Smith,Consumer,Caguas,PR,Puerto Rico,725\r\n".encode("latin-1")),
        ("CustomerDetails.csv", "cannot be read as utf-8", "byte 0xe9 on line 3", "--encoding"),
    ),
    "binary garbage": Case(lambda d: _write(d, "OrderDetails.csv", bytes(range(256)) * 100), ("OrderDetails.csv", "binary")),
    "a 10 MB field": Case(
        _customers([[*CUSTOMERS[0][:2], BIG, *CUSTOMERS[0][3:]], *CUSTOMERS[1:]]),
        check=_sql_value("SELECT length(customer_lname) FROM curated.customer_dim WHERE customer_id = 1", len(BIG)),
    ),
    "truncated last line": Case(
        _orders_text(lambda t: t + "\r\n3,11,1360,"), quarantined=(("curated.order_dim", 8, "malformed_record"),),
    ),
    "a required column all empty": Case(
        _deliveries([[*r[:5], ""] for r in DELIVERIES]),
        # the older, valid load of these deliveries stays published: bad new rows replace nothing
        quarantined=tuple(("curated.delivery_dim", i + 2, "missing_shipping_mode") for i in range(len(DELIVERIES))),
        check=_sql_value("SELECT count(*) FROM marts.fact_sales", len(ORDERS)),
    ),
    "dates in three formats": Case(
        _deliveries([DELIVERIES[0], [*DELIVERIES[1][:4], "2017-08-25", DELIVERIES[1][5]],
                     [*DELIVERIES[2][:4], "31.12.2018", DELIVERIES[2][5]], *DELIVERIES[3:]]),
        quarantined=(("curated.delivery_dim", 3, "invalid_value"), ("curated.delivery_dim", 4, "invalid_value")),
    ),
    "numbers with thousands separators": Case(
        _orders_text(lambda t: t.replace(",299.980011", ',"1,299.98"')),
        quarantined=(("curated.order_dim", 2, "invalid_value"),),
    ),
    "unicode names": Case(
        _customers([[CUSTOMERS[0][0], "Zoë", "Nguyễn", *CUSTOMERS[0][3:]], *CUSTOMERS[1:]]),
        check=_sql_value("SELECT customer_lname FROM curated.customer_dim WHERE customer_id = 1", "Nguyễn"),
    ),
    "formula-looking name": Case(
        _customers([[CUSTOMERS[0][0], '=HYPERLINK("http://x","y")', *CUSTOMERS[0][2:]], *CUSTOMERS[1:]]),
        check=_sql_value("SELECT _repairs FROM curated.customer_dim WHERE customer_id = 1", "formula_escaped"),
    ),
    "a record with an extra field": Case(
        _orders_text(lambda t: t + "\r\n1,12,1360,1,0,0,0.1,CASH,CLOSED,10,EXTRA"),
        quarantined=(("curated.order_dim", 8, "malformed_record"),),
    ),
    "exact duplicate rows": Case(
        _orders_text(lambda t: t + "\r\n" + t.splitlines()[1]), quarantined=(("curated.order_dim", 8, "duplicate_row"),),
    ),
    "an unknown extra file": Case(
        lambda d: _write(d, "returns.csv", b"RETURN_ID,ORDER_ID\r\n1,2\r\n"),
        check=_sql_value("SELECT count(*) FROM marts.fact_sales", len(ORDERS)),
    ),
}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Lakehouse:
    lake = Lakehouse(tmp_path_factory.mktemp("published") / "lake")
    lake.run(write_export(tmp_path_factory.mktemp("good")))
    return lake


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_clearly_or_quarantined(name: str, tmp_path: Path, published: Lakehouse) -> None:
    case = CASES[name]
    shutil.copytree(published.layout.root, tmp_path / "lake")
    lake = Lakehouse(tmp_path / "lake")
    before = lake.kpis()
    export = write_export(tmp_path / "export")
    case.spoil(export)
    if case.error:
        with pytest.raises(InsightFlowError) as raised:
            lake.run(export)
        message = str(raised.value)
        assert "\n" not in message
        for fragment in case.error:
            assert fragment in message, message
        assert lake.kpis() == before
        return
    assert lake.run(export).status == "success"
    refused = {(q["table"], q["line"], q["reason"]) for q in lake.quarantine()}
    assert refused == set(case.quarantined)
    if case.check:
        case.check(lake)


def test_a_file_changed_between_crawl_and_ingest_is_loaded_whole(tmp_path: Path) -> None:
    from insightflow.crawl import crawl
    from insightflow.ingest import ingest

    export = write_export(tmp_path / "export")
    report = crawl(export)
    _orders_text(lambda t: t + "\r\n1,8,1360,1,0,0,0.1,CASH,CLOSED,10")(export)
    lake = Lakehouse(tmp_path / "lake")
    loads = {load.source: load for load in ingest(lake.catalog, report.accepted).loads}
    assert loads["orders"].rows == len(ORDERS) + 1
    _, rows = lake.sql("SELECT count(DISTINCT _source_sha256), count(*) FROM raw.orders")
    assert rows == [(1, len(ORDERS) + 1)]
