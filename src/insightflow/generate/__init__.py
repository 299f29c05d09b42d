"""Synthetic DataCo-shaped exports: the four source CSVs, optionally with injected defects.

``generate(out, scale=1.0, seed=42, dirty=0.0)`` writes CustomerDetails.csv, ProductDetails.csv,
OrderDetails.csv and DeliveryDetails.csv in the exact format of the real export, with
distributions calibrated on it (``params.json``, written by ``scripts/calibrate_generator.py``);
``generate_days(out, days=30)`` writes a series of daily full exports of a changing business.
"""

from insightflow.generate.daily import DailyResult, generate_days
from insightflow.generate.generator import MANIFEST_NAME, GenerateResult, generate

__all__ = ["MANIFEST_NAME", "DailyResult", "GenerateResult", "generate", "generate_days"]
