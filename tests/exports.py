"""Build small exports in the exact format of the real one (BOM, CRLF, M/d/yy dates, quirks)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from insightflow.contracts import load_contracts

FILE_NAMES = {
    "customers": "CustomerDetails.csv",
    "products": "ProductDetails.csv",
    "orders": "OrderDetails.csv",
    "deliveries": "DeliveryDetails.csv",
}

CUSTOMERS = [
    # id, first, last, segment, city, state, country ("county"), zip
    ["1", "Richard", "Hernandez", "Consumer", "Brownsville", "TX", "EE. UU.", "78521"],
    ["2", "mary", "BARRETT", "Corporate", "Littleton", "CO", "EE. UU.", "80126"],
    ["3", "Ann", "Smith", "Home Office", "Caguas", "PR", "Puerto Rico", "725"],
    # shifted one column left from the city on (a quirk of the real export)
    ["4", "Zena", "Elliott", "Consumer", "CA", "91732", "EE. UU.", ""],
    # last name in the first-name field, no last name (another quirk)
    ["5", "York", "", "Corporate", "San Antonio", "TX", "EE. UU.", "78240"],
]
PRODUCTS = [
    ["1360", "Smart watch ", "2", "Fitness", "73", "Sporting Goods"],
    ["365", "Perfect Fitness Perfect Rip Deck", "4", "Apparel", "17", "Cleats"],
    ["502", "Nike Men's Dri-FIT Victory Golf Polo", "5", "Golf", "24", "Women's Apparel"],
    ["1004", "Field & Stream  Sportsman 16 Gun Fire Safe", "7", "Electronics ", "45", "Fishing"],
]
ORDERS = [
    # customer, order, product, qty, discount $ (mislabelled), rate, profit ratio, payment, status, price
    ["1", "1", "1360", "1", "60", "0.200000003", "0.370000005", "CASH", "CLOSED", "299.980011"],
    ["2", "2", "365", "1", "6", "0.029999999", "0.469999999", "PAYMENT", "PENDING_PAYMENT", "199.990006"],
    ["2", "2", "502", "5", "22.5", "0.090000004", "0.300000012", "PAYMENT", "PENDING_PAYMENT", "50"],
    ["3", "5", "1004", "12", "479.9", "0.100000001", "-0.200000003", "DEBIT", "COMPLETE", "39.990002"],
    ["4", "6", "502", "2", "0", "0", "0.25", "TRANSFER", "COMPLETE", "50"],
    ["5", "7", "365", "3", "15", "0.025", "0.1", "CASH", "COMPLETE", "199.990006"],
]
DELIVERIES = [
    # order, days, status, late risk, date (M/d/yy), mode
    ["1", "6", "Shipping canceled", "1", "4/8/15", "Second Class"],
    ["2", "4", "Shipping on time", "0", "8/25/17", "Standard Class"],
    ["5", "2", "Late delivery", "1", "12/31/18", "First Class"],
    ["6", "0", "Shipping on time", "0", "1/2/16", "Same Day"],
    ["7", "3", "Advance shipping", "0", "11/30/17", "Standard Class"],
]
ROWS = {"customers": CUSTOMERS, "products": PRODUCTS, "orders": ORDERS, "deliveries": DELIVERIES}


def csv_text(source: str, rows: list[list[str]], header: list[str] | None = None) -> str:
    """CSV text of ``rows`` under the contract header of ``source`` (CRLF, no BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header or list(load_contracts()[source].headers))
    writer.writerows(rows)
    return buffer.getvalue()


def write_export(folder: Path, overrides: dict[str, list[list[str]]] | None = None) -> Path:
    """Write the four files; ``overrides`` replaces a source's rows. OrderDetails has no final newline."""
    folder.mkdir(parents=True, exist_ok=True)
    for source, name in FILE_NAMES.items():
        text = csv_text(source, (overrides or {}).get(source, ROWS[source]))
        if source == "orders":
            text = text.rstrip("\r\n")
        (folder / name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return folder
