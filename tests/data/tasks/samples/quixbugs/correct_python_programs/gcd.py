def gcd(a, b):
    if b == 0:
        return a
    else:
        return gcd(b, a % b)

"""
Greatest common divisor of two non-negative integers, by Euclid's algorithm.
Input: a, b  Output: gcd(a, b)
"""
