"""The dashboard's Plotly charts, one function per chart of the original (and the new ones).

Each takes the DataFrame of one catalogue KPI and returns a figure in the Okabe-Ito palette with
numbers formatted like the cards ($1,234.56; 12,345; 46.2%).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from insightflow.dashboard import palette

HEIGHT = 300


def _layout(figure: go.Figure, title: str, height: int = HEIGHT, left: int = 60, **extra) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=height,
        # fixed margins that fit the tick labels: automargin would make Plotly lay out twice
        margin={"l": left, "r": 10, "t": 40, "b": 40},
        colorway=palette.CATEGORICAL,
        font={"size": 12, "family": "Source Sans Pro, sans-serif"},
        template="plotly_white",  # the app draws with theme=None (see app.py)
        showlegend=False,
        **extra,
    )
    figure.update_xaxes(automargin=False)
    figure.update_yaxes(automargin=False)
    return figure


def shipping_days_by_month(frame: pd.DataFrame) -> go.Figure:
    """Average shipping days per shipping month (area), as the original's first chart."""
    figure = go.Figure(go.Scatter(
        x=frame["month"], y=frame["avg_shipping_days"], mode="lines", fill="tozeroy",
        line={"color": palette.BLUE, "width": 2}, fillcolor="rgba(0, 114, 178, 0.25)",
        customdata=frame[["orders"]],
        hovertemplate="%{x|%b %Y}: %{y:.2f} days<br>%{customdata[0]:,} orders<extra></extra>",
    ))
    figure.update_yaxes(title="days", rangemode="tozero")
    figure.update_xaxes(title=None)
    return _layout(figure, "Average Shipping Days by Month")


def profit_margin_by_category(frame: pd.DataFrame, overall_margin: float | None) -> go.Figure:
    """Categories sized by net sales and coloured by profit margin (treemap with a colour range).

    The colour range (cividis, readable with every colour-vision deficiency) spans the margins of
    the selection (10th to 90th percentile); the colour bar marks the overall margin.
    """
    data = frame[frame["net_sales"] > 0]
    margins = data["profit_margin"].dropna()
    # An explicit root tile (all categories, at the overall margin): with an implicit one Plotly
    # draws a dark frame around the treemap.
    root = "All categories"
    figure = go.Figure(go.Treemap(
        labels=[root, *data["category_name"]], parents=["", *[root] * len(data)],
        values=[0.0, *data["net_sales"]], branchvalues="remainder",  # the root adds up its children
        customdata=[[float(data["profit"].sum()), overall_margin or 0.0],
                    *data[["profit", "profit_margin"]].itertuples(index=False, name=None)],
        marker={
            "colors": [overall_margin or 0.0, *data["profit_margin"]], "colorscale": palette.MARGIN_SCALE,
            "showscale": True, **_margin_range(margins),
            "colorbar": {"title": {"text": "margin"}, "tickformat": ".0%", "thickness": 12,
                         **_margin_ticks(margins, overall_margin)},
        },
        pathbar={"visible": False},
        texttemplate="%{label}<br>%{customdata[1]:.1%}",
        hovertemplate=("%{label}<br>net sales $%{value:,.2f}<br>profit $%{customdata[0]:,.2f}"
                       "<br>margin %{customdata[1]:.1%}<extra></extra>"),
        tiling={"pad": 1},
    ))
    return _layout(figure, "Profit Margin by Product Category", height=360)


def _margin_range(margins: pd.Series) -> dict:
    """The colour range: the 10th to 90th percentile, so a few outliers do not grey out the rest."""
    if len(margins) < 5:
        return {}
    return {"cmin": float(margins.quantile(0.1)), "cmax": float(margins.quantile(0.9))}


def _margin_ticks(margins: pd.Series, overall: float | None) -> dict:
    """Colour-bar ticks at the ends of the colour range and at the overall margin."""
    if margins.empty:
        return {}
    bounds = _margin_range(margins)
    values = [bounds.get("cmin", float(margins.min())), bounds.get("cmax", float(margins.max()))]
    texts = [f"{v:.1%}" for v in values]
    if overall is not None and values[0] < overall < values[1]:
        values.insert(1, overall)
        texts.insert(1, f"all {overall:.1%}")
    return {"tickmode": "array", "tickvals": values, "ticktext": texts}


def on_time_by_mode(frame: pd.DataFrame) -> go.Figure:
    """On-time delivery rate per shipping mode (bars)."""
    colours = [palette.mode_colour(m, i) for i, m in enumerate(frame["shipping_mode"])]
    figure = go.Figure(go.Bar(
        x=frame["shipping_mode"], y=frame["on_time_rate"], marker_color=colours,
        text=[f"{v:.1%}" for v in frame["on_time_rate"]], textposition="outside",
        customdata=frame[["orders"]],
        hovertemplate="%{x}: %{y:.1%} on time of %{customdata[0]:,} orders<extra></extra>",
    ))
    figure.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(figure, "On-Time Delivery Rate by Shipping Mode")


def late_deliveries_by_mode(frame: pd.DataFrame) -> go.Figure:
    """Late deliveries per shipping mode (pie), the same colours as the on-time bars."""
    colours = [palette.mode_colour(m, i) for i, m in enumerate(frame["shipping_mode"])]
    figure = go.Figure(go.Pie(
        labels=frame["shipping_mode"], values=frame["late_deliveries"], sort=False,
        marker={"colors": colours, "line": {"color": "#FFFFFF", "width": 1}},
        texttemplate="%{label}<br>%{value:,}", textposition="inside",
        hovertemplate="%{label}: %{value:,} late (%{percent})<extra></extra>",
    ))
    return _layout(figure, "Late Deliveries across Shipping Modes")


def top_products(frame: pd.DataFrame, top: int) -> go.Figure:
    """The ``top`` products by gross sales (horizontal bars, the largest on top)."""
    data = frame.iloc[::-1]
    figure = go.Figure(go.Bar(
        x=data["gross_sales"], y=data["product_name"], orientation="h", marker_color=palette.ORANGE,
        text=[f"${v:,.2f}" for v in data["gross_sales"]], textposition="inside",
        insidetextanchor="end",
        hovertemplate="%{y}<br>gross sales $%{x:,.2f}<extra></extra>",
    ))
    figure.update_xaxes(tickprefix="$", tickformat="~s")
    return _layout(figure, f"Top {top} Products by Sales", left=290)  # room for the product names


def profit_by_segment(frame: pd.DataFrame) -> go.Figure:
    """Each customer segment's share of profit (donut)."""
    figure = go.Figure(go.Pie(
        labels=frame["customer_segment"], values=frame["profit"], hole=0.5, sort=False,
        marker={"colors": palette.CATEGORICAL, "line": {"color": "#FFFFFF", "width": 1}},
        texttemplate="%{label}<br>%{percent:.1%}", textposition="inside",
        hovertemplate="%{label}: profit $%{value:,.2f} (%{percent})<extra></extra>",
    ))
    return _layout(figure, "Share of Profit by Customer Segment")


def order_size_mix(frame: pd.DataFrame) -> go.Figure:
    """Order lines by size category (Small < 5 units, Medium 5-9, Large ≥ 10), with their share."""
    order = {"Small": 0, "Medium": 1, "Large": 2}
    data = frame.sort_values("order_size_category", key=lambda s: s.map(order).fillna(9))
    colours = [palette.CATEGORICAL[order.get(c, 3)] for c in data["order_size_category"]]
    figure = go.Figure(go.Bar(
        x=data["order_size_category"], y=data["order_lines"], marker_color=colours,
        text=[f"{n:,} ({s:.1%})" for n, s in zip(data["order_lines"], data["share_of_lines"], strict=True)],
        textposition="outside", customdata=data[["products_ordered", "net_sales"]],
        hovertemplate=("%{x}: %{y:,} lines, %{customdata[0]:,} units, net sales "
                       "$%{customdata[1]:,.2f}<extra></extra>"),
    ))
    figure.update_yaxes(tickformat=",", rangemode="tozero")
    figure.update_yaxes(range=[0, float(data["order_lines"].max() or 1) * 1.2])
    return _layout(figure, "Order-Size Mix (order lines)")
