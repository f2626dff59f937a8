def evens(limit):
    """Yield the even numbers below limit."""
    n = 0
    while n <= limit:
        yield n
        n += 2
