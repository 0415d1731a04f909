#!/usr/bin/env python3
"""Coefficients of the fused CPU GELU's erfc (chexworld/models/layers/fused_cpu_kernels.cc).

For z >= 0, erfc(z) = t * exp(-z^2) * k(t) with t = 1 / (1 + z / 2); k is smooth
on t in [T_MIN, 1] (z in [0, Z_MAX]). k is interpolated at Chebyshev nodes of
s = (2t - 1 - T_MIN) / (1 - T_MIN) in [-1, 1] and printed as monomial
coefficients in s (Horner, highest first), with the interpolant's worst
relative error on a dense grid. Needs only Python's mpmath.

  python3 tools/fit_erfc_poly.py [degree]
"""
import sys
import mpmath as mp

mp.mp.dps = 50
Z_MAX = 9  # erfc(9) ~ 4e-37: beyond it GELU(-x) for x > 12.7 is 0 in float
T_MIN = 1 / (1 + mp.mpf(Z_MAX) / 2)


def k_of_s(s):
    t = (s * (1 - T_MIN) + 1 + T_MIN) / 2
    z = 2 * (1 / t - 1)
    return mp.erfc(z) * mp.exp(z * z) / t


def fit(degree):
    n = degree + 1
    nodes = [mp.cos(mp.pi * (2 * j + 1) / (2 * n)) for j in range(n)]
    a = mp.matrix([[x ** i for i in range(n)] for x in nodes])
    c = mp.lu_solve(a, mp.matrix([k_of_s(x) for x in nodes]))
    return [c[i] for i in range(n)]


def main():
    degree = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    c = fit(degree)
    worst = 0
    for j in range(2001):
        s = mp.mpf(-1) + 2 * mp.mpf(j) / 2000
        p = mp.mpf(0)
        for ci in reversed(c):
            p = p * s + mp.mpf(float(ci))  # coefficients as the float literals used
        worst = max(worst, abs(p / k_of_s(s) - 1))
    print(f"// degree {degree}, T_MIN = 1 / (1 + {Z_MAX} / 2); worst relative error {float(worst):.2e}")
    print(", ".join(f"{float(ci):.9e}f" for ci in reversed(c)))


if __name__ == "__main__":
    main()
