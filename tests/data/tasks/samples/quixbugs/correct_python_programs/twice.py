def twice(x):
    """Twice x."""
    return 2 * x
