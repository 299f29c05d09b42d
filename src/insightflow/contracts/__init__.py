"""Source contracts: what each CSV of an export must look like (see ``sources.yaml``)."""

from insightflow.contracts.sources import (
    LINEAGE_COLUMNS,
    ColumnContract,
    SourceContract,
    load_contracts,
    match_contract,
)

__all__ = [
    "LINEAGE_COLUMNS",
    "ColumnContract",
    "SourceContract",
    "load_contracts",
    "match_contract",
]
