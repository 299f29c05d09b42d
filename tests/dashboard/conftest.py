"""Dashboard fixtures: an AppTest of the app on a given lake, and the figures a chart drew."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from insightflow.dashboard import APP
from insightflow.dashboard.formatting import count, days, money, percent


@pytest.fixture
def dashboard(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``dashboard(lake_root, **query)``: the app rendered on that lake with that query string."""

    def render(root: Path, **query: str) -> AppTest:
        monkeypatch.setenv("INSIGHTFLOW_LAKE", str(root))
        app = AppTest.from_file(str(APP), default_timeout=120)
        for name, value in query.items():
            app.query_params[name] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return render


def cards(app: AppTest) -> dict[str, str]:
    """Every KPI card: label → the text it shows."""
    return {metric.label: metric.value for metric in app.metric}


def expected_cards(summary: dict) -> dict[str, str]:
    """The cards the query layer's KPI summary should produce, formatted like the original."""
    orders = summary["orders_placed"]
    return {
        "Products Ordered": count(summary["products_ordered"]),
        "Gross Sales": money(summary["gross_sales"]),
        "Net Profit": money(summary["net_profit"]),
        "Orders Placed": count(orders),
        "Net Sales": money(summary["net_sales"]),
        "Discount": money(summary["discount"]),
        "Avg Shipping Days": days(summary["avg_shipping_days"]),
        "Late-Delivery Share": percent(summary["late_deliveries"] / orders if orders else 0.0),
        "Total Delayed Orders": count(summary["late_deliveries"]),
    }


def charts(app: AppTest) -> dict[str, list[dict]]:
    """Every Plotly chart of the page: title → its traces (typed arrays decoded to lists)."""
    found = {}
    for element in app.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        found[spec["layout"]["title"]["text"]] = [_decoded(trace) for trace in spec["data"]]
    return found


def _decoded(value):
    """Plotly ≥ 6 sends numeric arrays as ``{"dtype", "bdata"}``; make them plain lists again."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            data = data.reshape([int(n) for n in str(value["shape"]).split(",")])
        return data.tolist()
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value
