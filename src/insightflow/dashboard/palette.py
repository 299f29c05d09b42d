"""Colours that colour-blind readers can tell apart: the Okabe-Ito palette.

Okabe & Ito, "Color Universal Design" (2008), https://jfly.uni-koeln.de/color/ — eight colours
distinguishable under protanopia, deuteranopia and tritanopia.
"""

from __future__ import annotations

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"

# Categorical order: the strongest contrasts first (yellow, weak on white, last).
CATEGORICAL = [BLUE, ORANGE, BLUISH_GREEN, VERMILLION, SKY_BLUE, REDDISH_PURPLE, YELLOW, BLACK]

# The profit-margin colour range: cividis (Nuñez, Anderton & Renslow 2018, "Optimizing colormaps
# with consideration for color vision deficiency"), dark blue for the lowest margin to yellow.
MARGIN_SCALE = "Cividis"

# Fixed colours per shipping mode, so the bars and the pie of the same mode match.
SHIPPING_MODES = {
    "First Class": BLUE,
    "Same Day": ORANGE,
    "Second Class": BLUISH_GREEN,
    "Standard Class": REDDISH_PURPLE,
}


def mode_colour(mode: str, index: int) -> str:
    """The colour of a shipping mode (a mode the palette does not name gets the next free one)."""
    return SHIPPING_MODES.get(mode, CATEGORICAL[index % len(CATEGORICAL)])
