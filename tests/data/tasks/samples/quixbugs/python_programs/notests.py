def notests(x):
    return -x
