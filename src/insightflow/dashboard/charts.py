"""The dashboard's Plotly charts, one function per chart of the original (and the new ones).

Each takes the DataFrame of one catalogue KPI and returns a figure in the Okabe-Ito palette with
numbers formatted like the cards ($1,234.56; 12,345; 46.2%).
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from insightflow.dashboard import palette

HEIGHT = 300
# A bar's value after its end, level and at full size: Plotly otherwise turns a label that is
# wider than its bar on its side and shrinks it (to 6 px on a phone), and clips it at the axes.
BAR_TEXT_OUTSIDE = {"textposition": "outside", "textangle": 0, "constraintext": "none", "cliponaxis": False}


def _layout(figure: go.Figure, title: str, height: int = HEIGHT, left: int = 60, right: int = 10,
            bottom: int = 40, **extra) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=height,
        # fixed margins that fit the tick labels: automargin would make Plotly lay out twice
        margin={"l": left, "r": right, "t": 40, "b": bottom},
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

    The colour range (cividis, readable with every colour-vision deficiency) runs from the lowest
    to the highest margin of the selection, with a colour stop at each category's margin placed by
    the share of net sales below it (see ``margin_colour_scale``): the large categories, whose
    margins lie within a point of each other, get colours as far apart as their share of the sales.
    Tiles too small for an 11-px label show it on hover only.
    """
    data = frame[frame["net_sales"] > 0]
    # An explicit root tile (all categories, at the overall margin): with an implicit one Plotly
    # draws a dark frame around the treemap.
    root = "All categories"
    figure = go.Figure(go.Treemap(
        labels=[root, *data["category_name"]], parents=["", *[root] * len(data)],
        values=[0.0, *data["net_sales"]], branchvalues="remainder",  # the root adds up its children
        customdata=[[float(data["profit"].sum()), overall_margin or 0.0, root],
                    *zip(data["profit"], data["profit_margin"], map(_tile_label, data["category_name"]), strict=True)],
        marker={
            "colors": [overall_margin or 0.0, *data["profit_margin"]],
            **margin_colour_scale(data["profit_margin"], data["net_sales"]),
            "showscale": True,
            "colorbar": {"title": {"text": "margin"}, "tickformat": ".0%", "thickness": 12,
                         **_margin_ticks(data["profit_margin"].dropna(), overall_margin)},
        },
        pathbar={"visible": False},
        texttemplate="%{customdata[2]}<br>%{customdata[1]:.1%}",
        hovertemplate=("%{label}<br>net sales $%{value:,.2f}<br>profit $%{customdata[0]:,.2f}"
                       "<br>margin %{customdata[1]:.1%}<extra></extra>"),
        tiling={"pad": 1},
    ))
    # a label that would need shrinking below 11 px is hidden rather than drawn unreadably small
    return _layout(figure, "Profit Margin by Product Category", height=360,
                   uniformtext={"minsize": 11, "mode": "hide"})


def _tile_label(category: str) -> str:
    """A long category name on two lines, so a mid-sized tile keeps its label (Indoor/Outdoor Games)."""
    lines = _two_lines(category).split("<br>") if len(category) > 14 else [category]
    return "<br>".join(html.escape(line) for line in lines)


def margin_colour_scale(margins: pd.Series, weights: pd.Series) -> dict:
    """A colour range from the lowest to the highest margin whose colours follow the sales.

    Each category's margin is a colour stop, at the cividis colour of the share of net sales of
    the categories with a lower margin (plus half its own): colours stay in margin order, and each
    stretch of the scale covers as much of the treemap's area as any other. With a linear scale the
    categories that make up most of the sales (11.5-12.3 % on the reference data) all sat at the
    scale's grey middle.
    """
    frame = pd.DataFrame({"margin": margins, "weight": weights}).dropna()
    frame = frame[frame["weight"] > 0].groupby("margin", as_index=False)["weight"].sum()
    if len(frame) < 2:
        return {"colorscale": palette.MARGIN_SCALE}
    low, high = float(frame["margin"].iloc[0]), float(frame["margin"].iloc[-1])
    share = frame["weight"] / frame["weight"].sum()
    levels = ((share.cumsum() - share / 2) - share.iloc[0] / 2) / (1 - share.iloc[0] / 2 - share.iloc[-1] / 2)
    colours = plotly.colors.sample_colorscale(palette.MARGIN_SCALE, levels.clip(0, 1).tolist())
    positions = ((frame["margin"] - low) / (high - low)).tolist()
    positions[0], positions[-1] = 0.0, 1.0  # float noise must not move the ends
    return {"cmin": low, "cmax": high, "colorscale": [list(stop) for stop in zip(positions, colours, strict=True)]}


def _margin_ticks(margins: pd.Series, overall: float | None) -> dict:
    """Colour-bar ticks at the ends of the colour range and at the overall margin."""
    if margins.empty:
        return {}
    values = [float(margins.min()), float(margins.max())]
    texts = [f"{v:.1%}" for v in values]
    if overall is not None and values[0] < overall < values[1]:
        values.insert(1, overall)
        texts.insert(1, f"all {overall:.1%}")
    return {"tickmode": "array", "tickvals": values, "ticktext": texts}


def on_time_by_mode(frame: pd.DataFrame) -> go.Figure:
    """On-time delivery rate per shipping mode (bars).

    The mode names are written on two lines and never tilted, so they fit under their bars on a
    390-px phone as on a desktop (tilted, they ran out of the chart: "Second Cla").
    """
    colours = [palette.mode_colour(m, i) for i, m in enumerate(frame["shipping_mode"])]
    figure = go.Figure(go.Bar(
        x=frame["shipping_mode"], y=frame["on_time_rate"], marker_color=colours,
        text=[f"{v:.1%}" for v in frame["on_time_rate"]], **BAR_TEXT_OUTSIDE,
        customdata=frame[["orders"]],
        hovertemplate="%{x}: %{y:.1%} on time of %{customdata[0]:,} orders<extra></extra>",
    ))
    figure.update_yaxes(tickformat=".0%", range=[0, 1])
    figure.update_xaxes(tickangle=0, tickmode="array", tickvals=list(frame["shipping_mode"]),
                        ticktext=[_two_lines(m) for m in frame["shipping_mode"]])
    return _layout(figure, "On-Time Delivery Rate by Shipping Mode", bottom=50)


def _two_lines(label: str) -> str:
    """``Standard Class`` → ``Standard<br>Class``: a category name broken at its middle space."""
    words = label.split(" ")
    if len(words) < 2:
        return label
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return f"{' '.join(words[:cut])}<br>{' '.join(words[cut:])}"


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
    """The ``top`` products by gross sales (horizontal bars, the largest on top).

    Each product's name is written above its bar, from the left edge, so the whole name and the
    bars share the chart's width at any window size (a fixed margin for the names left phones no
    room for the bars and cut long names); the value stands after the bar, never shrunk.
    """
    data = frame.iloc[::-1]
    longest = float(data["gross_sales"].max() or 1.0)
    figure = go.Figure(go.Bar(
        x=data["gross_sales"], y=data["product_name"], orientation="h", width=0.42,
        marker_color=palette.ORANGE, text=[f"${v:,.2f}" for v in data["gross_sales"]], **BAR_TEXT_OUTSIDE,
        hovertemplate="%{y}<br>gross sales $%{x:,.2f}<extra></extra>",
    ))
    for index, name in enumerate(data["product_name"]):  # a category axis places the bars at 0, 1, …
        figure.add_annotation(
            x=0, y=index + 0.24, xref="x", yref="y", xanchor="left", yanchor="bottom", showarrow=False,
            text=html.escape(str(name)), font={"size": 12, "color": "#31333F"},
        )
    # room after the longest bar for its value ("$6,065,296.89" is about 80 px)
    figure.update_xaxes(range=[0, longest * 1.55], showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(showticklabels=False, range=[-0.5, len(data) - 0.2])
    return _layout(figure, f"Top {top} Products by Sales", left=10, right=10, bottom=10)


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
        **BAR_TEXT_OUTSIDE, customdata=data[["products_ordered", "net_sales"]],
        hovertemplate=("%{x}: %{y:,} lines, %{customdata[0]:,} units, net sales "
                       "$%{customdata[1]:,.2f}<extra></extra>"),
    ))
    figure.update_yaxes(tickformat=",", rangemode="tozero")
    figure.update_yaxes(range=[0, float(data["order_lines"].max() or 1) * 1.2])
    return _layout(figure, "Order-Size Mix (order lines)")
