"""Synthetic DataCo-shaped exports: the four source CSVs, optionally with injected defects.

``generate(out, scale=1.0, seed=42, dirty=0.0)`` writes CustomerDetails.csv, ProductDetails.csv,
OrderDetails.csv and DeliveryDetails.csv in the exact format of the real export, with
distributions calibrated on it (``params.json``, written by ``scripts/calibrate_generator.py``).
"""

from insightflow.generate.generator import MANIFEST_NAME, GenerateResult, generate

__all__ = ["MANIFEST_NAME", "GenerateResult", "generate"]
