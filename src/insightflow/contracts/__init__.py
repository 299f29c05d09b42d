"""Source contracts: what each CSV of an export must look like (see ``sources.yaml``)."""

from insightflow.contracts.sources import (
    DRIFT_RULES,
    LINEAGE_COLUMNS,
    ColumnContract,
    DriftPolicy,
    SourceContract,
    load_contracts,
    match_contract,
    parse_contracts,
)

__all__ = [
    "DRIFT_RULES",
    "LINEAGE_COLUMNS",
    "ColumnContract",
    "DriftPolicy",
    "SourceContract",
    "load_contracts",
    "match_contract",
    "parse_contracts",
]
