"""``python -m insightflow.cli``: the ``insightflow`` command."""

from insightflow.cli import main

main()
