def count_up(n):
    """The list 1, 2, ..., n."""
    out = []
    i = 1
    while i <= n:
        out.append(i)
    return out
