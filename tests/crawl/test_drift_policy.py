"""The drift policy is the contract's (``drift:`` in sources.yaml), checked when it loads, and the
crawler and ingest do what it says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.contracts import DriftPolicy, load_contracts, parse_contracts, sources
from insightflow.crawl import crawl
from insightflow.crawl.crawler import FileReport
from insightflow.errors import ContractError
from tests.exports import write_export

SOURCE = """
drift: {extra_columns: keep, missing_optional: fill_null, missing_required: reject}
deliveries:
  table: raw.deliveries
  file_names: [DeliveryDetails.csv]
  natural_key: [order_id]
  drift: {extra_columns: reject}
  columns:
    - {source: ORDER_ID, name: order_id, type: BIGINT, required: true}
"""


def _with_policy(monkeypatch: pytest.MonkeyPatch, source: str, **rules: str) -> None:
    """The package's contracts, with ``rules`` overriding the drift policy of ``source``."""
    contracts = dict(load_contracts())
    contract = contracts[source]
    contracts[source] = dataclasses.replace(contract, drift=dataclasses.replace(contract.drift, **rules))
    monkeypatch.setattr(sources, "load_contracts", lambda: contracts)


def _add_carrier(export: Path) -> None:
    """An extra CARRIER column in the deliveries file."""
    lines = (export / "DeliveryDetails.csv").read_text("utf-8-sig").splitlines()
    lines = [lines[0] + ",CARRIER"] + [line + ",DHL" for line in lines[1:]]
    (export / "DeliveryDetails.csv").write_text("\r\n".join(lines) + "\r\n", "utf-8-sig")


def _report(export: Path, file_name: str) -> FileReport:
    return next(f for f in crawl(export).files if f.path.name == file_name)


def test_the_package_contracts_declare_the_default_policy() -> None:
    assert {c.drift for c in load_contracts().values()} == {DriftPolicy("keep", "fill_null", "reject")}


def test_a_source_overrides_rules_of_the_default_policy() -> None:
    contract = parse_contracts(SOURCE)["deliveries"]
    assert contract.drift == DriftPolicy(extra_columns="reject", missing_optional="fill_null")


@pytest.mark.parametrize(("drift", "message"), [
    ("{extra_columns: ignore}", "deliveries.drift.extra_columns is 'ignore': one of keep, drop, reject"),
    ("{missing_required: fill_null}", "deliveries.drift.missing_required is 'fill_null': one of reject"),
    ("{renamed_columns: keep}", "deliveries.drift: unknown rule 'renamed_columns'"),
    ("reject", "deliveries.drift must be a mapping of rules"),
])
def test_a_bad_policy_is_refused_when_the_contracts_load(drift: str, message: str) -> None:
    with pytest.raises(ContractError, match="^sources.yaml: " + message.replace(".", r"\.")):
        parse_contracts(SOURCE.replace("drift: {extra_columns: reject}", f"drift: {drift}"))


def test_a_bad_default_policy_is_refused() -> None:
    with pytest.raises(ContractError, match="sources.yaml: drift.missing_optional is 'drop'"):
        parse_contracts(SOURCE.replace("missing_optional: fill_null", "missing_optional: drop"))


def test_extra_columns_kept_by_default(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    _add_carrier(export)
    report = _report(export, "DeliveryDetails.csv")
    assert (report.status, report.extra_columns, report.drift) == ("ok", ["CARRIER"], "extra columns kept: CARRIER")


def test_extra_columns_rejected_when_the_policy_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_policy(monkeypatch, "deliveries", extra_columns="reject")
    export = write_export(tmp_path / "export")
    _add_carrier(export)
    report = _report(export, "DeliveryDetails.csv")
    assert (report.status, report.drift) == ("rejected", "extra columns refused: CARRIER")
    assert report.problem == "column CARRIER is not in the deliveries contract (its drift policy rejects extra columns)"
    assert _report(export, "OrderDetails.csv").status == "ok"  # the other sources keep the default


def test_extra_columns_dropped_are_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_policy(monkeypatch, "deliveries", extra_columns="drop")
    export = write_export(tmp_path / "export")
    _add_carrier(export)
    assert _report(export, "DeliveryDetails.csv").drift == "extra columns dropped: CARRIER"
    lake = Lakehouse(tmp_path / "lake")
    lake.ingest(export)
    columns, rows = lake.sql("SELECT * FROM raw.deliveries")
    assert "carrier" not in columns and len(rows) == 5


def test_missing_optional_column_rejected_when_the_policy_says_so(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    export = write_export(tmp_path / "export")
    lines = (export / "CustomerDetails.csv").read_text("utf-8-sig").splitlines()
    (export / "CustomerDetails.csv").write_text(
        "\r\n".join(line.rsplit(",", 1)[0] for line in lines) + "\r\n", "utf-8-sig")  # no CUSTOMER_ZIPCODE
    report = _report(export, "CustomerDetails.csv")
    assert (report.status, report.missing_optional) == ("ok", ["CUSTOMER_ZIPCODE"])
    _with_policy(monkeypatch, "customers", missing_optional="reject")
    report = _report(export, "CustomerDetails.csv")
    assert report.status == "rejected"
    assert report.problem == ("optional column CUSTOMER_ZIPCODE is missing from the header "
                              "(the customers drift policy rejects missing columns)")
