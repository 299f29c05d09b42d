"""InsightFlow: supply-chain CSV exports to an Iceberg star schema, KPIs and a dashboard."""

from insightflow.errors import InsightFlowError
from insightflow.lakehouse import Lakehouse

__version__ = "0.1.0"
__all__ = ["InsightFlowError", "Lakehouse", "__version__"]
