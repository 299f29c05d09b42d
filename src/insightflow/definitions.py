"""The Dagster definitions of the lake named by ``$INSIGHTFLOW_LAKE`` (default ``./lakehouse``).

    DAGSTER_HOME=lakehouse/.dagster dagster dev -m insightflow.definitions

(``insightflow ui`` does exactly that.) Built by ``insightflow.orchestration.build_definitions``.
"""

from insightflow.orchestration import build_definitions

defs = build_definitions()
