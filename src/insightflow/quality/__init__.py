"""Data-quality checks declared in the models' headers, run as SQL after each table is built."""

from insightflow.quality.checks import CheckResult, check_record, check_sql, run_checks

__all__ = ["CheckResult", "check_record", "check_sql", "run_checks"]
