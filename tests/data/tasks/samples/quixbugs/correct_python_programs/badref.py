def badref(x):
    return x
