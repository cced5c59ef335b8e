"""`python -m ml_connector` runs the CLI."""

from ml_connector.cli import main

main()
