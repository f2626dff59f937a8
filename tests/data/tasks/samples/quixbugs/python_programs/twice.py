def twice(x):
    """Twice x."""
    return x + x
