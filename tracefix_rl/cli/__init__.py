"""The ``tracefix`` command line (typer + rich). Nothing in the core imports this package."""
