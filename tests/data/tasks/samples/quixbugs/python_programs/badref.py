def badref(x):
    return x - 1
