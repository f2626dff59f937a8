def single(x):
    return -x
