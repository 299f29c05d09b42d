"""Defects that real exports have, injected into a share of rows and listed in a manifest.

Each defect sits on its own row (a changed row, or a new row such as a duplicate placed after its
original) and carries the reason code under which the pipeline quarantines or repairs that row.
The manifest gives the physical line of each (header = line 1), as the pipeline records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from insightflow.generate.csvtext import quote_field

FORMULA = '=HYPERLINK("http://x","y")'


@dataclass
class Edit:
    """What a defect does to its target row: replace its fields and/or insert a new row."""

    replace: list[str] | None = None
    insert: list[str] | None = None
    insert_later: bool = False  # a copy goes somewhere after its original, else right after it
    column: str | None = None


@dataclass
class DefectContext:
    """What defects need to know beyond the row itself: headers, ids in use, fresh ids."""

    header: tuple[str, ...]
    segments: tuple[str, ...] = ()
    customer_max_id: int = 0
    product_max_id: int = 0
    order_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    fresh_ids: dict[str, int] = field(default_factory=dict)

    def index(self, column: str) -> int:
        return self.header.index(column)

    def fresh(self, name: str, start: int) -> int:
        """The next id of a sequence that no real row uses."""
        value = self.fresh_ids.get(name, start)
        self.fresh_ids[name] = value + 1
        return value

    def gap_after(self, order_id: int) -> int:
        """An order id that exists nowhere: the gap after ``order_id``, else one past the last."""
        position = int(np.searchsorted(self.order_ids, order_id, side="right"))
        following = self.order_ids[position] if position < len(self.order_ids) else None
        if following is not None and following > order_id + 1:
            return order_id + 1
        return self.fresh("order", int(self.order_ids[-1]) + 1)


Action = Callable[[list[str], float, DefectContext], Edit]


@dataclass(frozen=True)
class DefectKind:
    kind: str
    reason: str
    expect: str  # "quarantine" or "repair"
    action: Action
    column: str | None = None
    removes_row: bool = False  # quarantines the only row of its key: rows that refer to it orphan


def _set(column: str, value: Callable[[str, float], str]) -> Action:
    def action(fields: list[str], u: float, ctx: DefectContext) -> Edit:
        changed = list(fields)
        i = ctx.index(column)
        changed[i] = value(changed[i], u)
        return Edit(replace=changed, column=column)

    return action


def _one_of(*actions: Action) -> Action:
    def action(fields: list[str], u: float, ctx: DefectContext) -> Edit:
        return actions[min(int(u * len(actions)), len(actions) - 1)](
            fields, u * len(actions) % 1, ctx
        )

    return action


def _duplicate_row(fields: list[str], u: float, ctx: DefectContext) -> Edit:
    return Edit(insert=list(fields), insert_later=True)


def _duplicate_key(column: str, value: Callable[[str, float, DefectContext], str]) -> Action:
    def action(fields: list[str], u: float, ctx: DefectContext) -> Edit:
        copy = list(fields)
        i = ctx.index(column)
        copy[i] = value(copy[i], u, ctx)
        return Edit(insert=copy, insert_later=True, column=column)

    return action


def _drop_field(column: str) -> Action:
    def action(fields: list[str], u: float, ctx: DefectContext) -> Edit:
        return Edit(replace=[f for i, f in enumerate(fields) if i != ctx.index(column)])

    return action


def _variant(value: str, u: float) -> str:
    """A case or whitespace variant of a categorical value (``Same Day`` -> ``same day``)."""
    options = (value.lower(), value.upper() + " ", " " + value.lower() + " ", value + "  ")
    chosen = options[min(int(u * len(options)), len(options) - 1)]
    return chosen if chosen != value else value.lower() + " "


def _new_row(edit: Callable[[list[str], float, DefectContext], list[str]]) -> Action:
    """A defect on a new row of its own, right after the target (the target stays as it is)."""

    def action(fields: list[str], u: float, ctx: DefectContext) -> Edit:
        return Edit(insert=edit(list(fields), u, ctx))

    return action


def _other_segment(value: str, u: float, ctx: DefectContext) -> str:
    others = [s for s in ctx.segments if s != value] or ["Consumer"]
    return others[min(int(u * len(others)), len(others) - 1)]


def _formula(fields: list[str], u: float, ctx: DefectContext) -> Edit:
    column = "CUSTOMER_FNAME" if u < 0.5 else "CUSTOMER_LNAME"
    changed = list(fields)
    changed[ctx.index(column)] = quote_field(FORMULA)
    return Edit(replace=changed, column=column)


def _blank(value: str, u: float) -> str:
    return ""


def _unparseable(value: str, u: float) -> str:
    return ("N/A", value + "x", "#VALUE!")[min(int(u * 3), 2)]


CUSTOMER_DEFECTS: tuple[DefectKind, ...] = (
    DefectKind("duplicate_row", "duplicate_row", "quarantine", _duplicate_row),
    DefectKind(
        "duplicate_key",
        "duplicate_key",
        "quarantine",
        _duplicate_key("CUSTOMER_SEGMENT", _other_segment),
        "CUSTOMER_SEGMENT",
    ),
    DefectKind(
        "null_required",
        "missing_customer_segment",
        "quarantine",
        _set("CUSTOMER_SEGMENT", _blank),
        "CUSTOMER_SEGMENT",
        removes_row=True,
    ),
    DefectKind(
        "unparseable_value",
        "invalid_value",
        "quarantine",
        _set("CUSTOMER_ID", lambda v, u: v + "x"),
        "CUSTOMER_ID",
        removes_row=True,
    ),
    DefectKind(
        "shifted_columns",
        "malformed_record",
        "quarantine",
        _drop_field("CUSTOMER_COUNTY"),
        removes_row=True,
    ),
    DefectKind(
        "categorical_variant",
        "segment_normalised",
        "repair",
        _set("CUSTOMER_SEGMENT", _variant),
        "CUSTOMER_SEGMENT",
    ),
    DefectKind("formula_injection", "formula_escaped", "repair", _formula),
)


def _fresh_product(edit: Callable[[list[str], float, DefectContext], None]) -> Action:
    """A new product (an id no order uses) that carries the defect: the catalogue stays whole."""

    def change(fields: list[str], u: float, ctx: DefectContext) -> list[str]:
        fields[ctx.index("PRODUCT_ID")] = str(ctx.fresh("product", ctx.product_max_id + 1))
        edit(fields, u, ctx)
        return fields

    return _new_row(change)


def _blank_name(fields: list[str], u: float, ctx: DefectContext) -> None:
    fields[ctx.index("PRODUCT_NAME")] = ""


def _bad_department(fields: list[str], u: float, ctx: DefectContext) -> None:
    fields[ctx.index("DEPARTMENT_ID")] = _unparseable(fields[ctx.index("DEPARTMENT_ID")], u)


def _drop_category(fields: list[str], u: float, ctx: DefectContext) -> None:
    del fields[ctx.index("CATEGORY_NAME")]


PRODUCT_DEFECTS: tuple[DefectKind, ...] = (
    DefectKind("duplicate_row", "duplicate_row", "quarantine", _duplicate_row),
    DefectKind(
        "duplicate_key",
        "duplicate_key",
        "quarantine",
        _duplicate_key("PRODUCT_NAME", lambda v, u, ctx: v.strip() + " Plus"),
        "PRODUCT_NAME",
    ),
    DefectKind(
        "null_required",
        "missing_product_name",
        "quarantine",
        _fresh_product(_blank_name),
        "PRODUCT_NAME",
    ),
    DefectKind(
        "unparseable_value",
        "invalid_value",
        "quarantine",
        _fresh_product(_bad_department),
        "DEPARTMENT_ID",
    ),
    DefectKind("shifted_columns", "malformed_record", "quarantine", _fresh_product(_drop_category)),
)


def _orphan_customer(fields: list[str], u: float, ctx: DefectContext) -> Edit:
    changed = list(fields)
    changed[ctx.index("ORDER_CUSTOMER_ID")] = str(ctx.customer_max_id + 1 + int(u * 1000))
    return Edit(replace=changed, column="ORDER_CUSTOMER_ID")


def _orphan_product(fields: list[str], u: float, ctx: DefectContext) -> Edit:
    changed = list(fields)
    # Far above the ids of the catalogue and of the products added by defects.
    changed[ctx.index("ORDER_PRODUCT_ID")] = str(ctx.product_max_id + 100_000 + int(u * 1000))
    return Edit(replace=changed, column="ORDER_PRODUCT_ID")


def _other_quantity(value: str, u: float, ctx: DefectContext) -> str:
    return str(int(value) % 5 + 1)


ORDER_DEFECTS: tuple[DefectKind, ...] = (
    DefectKind("duplicate_row", "duplicate_row", "quarantine", _duplicate_row),
    DefectKind(
        "duplicate_key",
        "duplicate_key",
        "quarantine",
        _duplicate_key("ORDER_QUANTITY", _other_quantity),
        "ORDER_QUANTITY",
    ),
    DefectKind(
        "null_required",
        "missing_order_quantity",
        "quarantine",
        _set("ORDER_QUANTITY", _blank),
        "ORDER_QUANTITY",
    ),
    DefectKind(
        "null_required",
        "missing_product_price",
        "quarantine",
        _set("PRODUCT_PRICE", _blank),
        "PRODUCT_PRICE",
    ),
    DefectKind(
        "null_required",
        "missing_customer_id",
        "quarantine",
        _set("ORDER_CUSTOMER_ID", _blank),
        "ORDER_CUSTOMER_ID",
    ),
    DefectKind(
        "unparseable_value",
        "invalid_value",
        "quarantine",
        _one_of(_set("ORDER_QUANTITY", _unparseable), _set("PRODUCT_PRICE", _unparseable)),
    ),
    DefectKind(
        "negative_quantity",
        "quantity_below_one",
        "quarantine",
        _set("ORDER_QUANTITY", lambda v, u: "-" + v),
        "ORDER_QUANTITY",
    ),
    DefectKind("orphan_customer", "orphan_customer", "quarantine", _orphan_customer),
    DefectKind("orphan_product", "orphan_product", "quarantine", _orphan_product),
    DefectKind("shifted_columns", "malformed_record", "quarantine", _drop_field("DISCOUNT_RATE")),
    DefectKind(
        "categorical_variant",
        "category_normalised",
        "repair",
        _one_of(_set("PAYMENT_TYPE", _variant), _set("ORDER_STATUS", _variant)),
    ),
)


def _orphan_delivery(fields: list[str], u: float, ctx: DefectContext) -> list[str]:
    i = ctx.index("ORDER_ID")
    fields[i] = str(ctx.gap_after(int(fields[i])))
    return fields


def _bad_date(value: str, u: float) -> str:
    return ("2017-13-45", "31/31/17", "N/A")[min(int(u * 3), 2)]


def _other_days(value: str, u: float, ctx: DefectContext) -> str:
    return str((int(value) + 1 + int(u * 6)) % 8)


DELIVERY_DEFECTS: tuple[DefectKind, ...] = (
    DefectKind("duplicate_row", "duplicate_row", "quarantine", _duplicate_row),
    DefectKind(
        "duplicate_key",
        "duplicate_key",
        "quarantine",
        _duplicate_key("SHIPPING_DAYS", _other_days),
        "SHIPPING_DAYS",
    ),
    DefectKind(
        "null_required",
        "missing_shipping_date",
        "quarantine",
        _set("SHIPPING_DATE", _blank),
        "SHIPPING_DATE",
    ),
    DefectKind(
        "null_required",
        "missing_shipping_mode",
        "quarantine",
        _set("SHIPPING_MODE", _blank),
        "SHIPPING_MODE",
    ),
    DefectKind(
        "null_required",
        "missing_shipping_days",
        "quarantine",
        _set("SHIPPING_DAYS", _blank),
        "SHIPPING_DAYS",
    ),
    DefectKind(
        "null_required",
        "missing_late_delivery_risk",
        "quarantine",
        _set("LATE_DELIVERY_RISK", _blank),
        "LATE_DELIVERY_RISK",
    ),
    DefectKind(
        "unparseable_value",
        "invalid_value",
        "quarantine",
        _one_of(_set("SHIPPING_DATE", _bad_date), _set("SHIPPING_DAYS", _unparseable)),
    ),
    DefectKind(
        "orphan_order", "orphan_order", "quarantine", _new_row(_orphan_delivery), "ORDER_ID"
    ),
    DefectKind("shifted_columns", "malformed_record", "quarantine", _drop_field("DELIVERY_STATUS")),
    DefectKind(
        "categorical_variant",
        "category_normalised",
        "repair",
        _one_of(_set("SHIPPING_MODE", _variant), _set("DELIVERY_STATUS", _variant)),
    ),
)
