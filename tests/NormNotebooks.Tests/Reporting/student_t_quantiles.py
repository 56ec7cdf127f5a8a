# SPDX-License-Identifier: MIT
"""Exact two-sided 95% Student-t quantiles t(0.975, nu) for IntervalTests, from closed forms, in 50-digit decimals.

nu = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so t = (2p - 1) / sqrt(2p(1 - p)).
nu odd: F(t) = 1/2 + (theta + sin(theta) cos(theta) (1 + 2/3 c^2 + 2*4/(3*5) c^4 + ...)) / pi with theta = atan(t / sqrt(nu)),
c = cos(theta), the series stopping at c^(nu - 3) (Abramowitz & Stegun 26.7.4), solved for theta by bisection.
Standard library only: python3 student_t_quantiles.py
"""
from decimal import Decimal, getcontext

getcontext().prec = 50
PI = Decimal("3.14159265358979323846264338327950288419716939937510")
TINY = Decimal(10) ** -48


def sin_cos(x):
    sin, cos, sin_term, cos_term, n = x, Decimal(1), x, Decimal(1), 1
    while abs(sin_term) > TINY or abs(cos_term) > TINY:
        sin_term = -sin_term * x * x / ((2 * n) * (2 * n + 1))
        cos_term = -cos_term * x * x / ((2 * n - 1) * (2 * n))
        sin, cos, n = sin + sin_term, cos + cos_term, n + 1
    return sin, cos


def quantile_odd(p, nu):
    target = PI * (p - Decimal("0.5"))

    def lhs(theta):
        sin, cos = sin_cos(theta)
        series, term = Decimal(1), Decimal(1)
        for k in range(1, (nu - 1) // 2):
            term *= Decimal(2 * k) / Decimal(2 * k + 1) * cos * cos
            series += term
        return theta + sin * cos * series

    low, high = Decimal(0), PI / 2
    for _ in range(170):
        middle = (low + high) / 2
        low, high = (middle, high) if lhs(middle) < target else (low, middle)
    sin, cos = sin_cos(low)
    return Decimal(nu).sqrt() * sin / cos


p = Decimal("0.975")
print("nu = 2:", (2 * p - 1) / (2 * p * (1 - p)).sqrt())
for nu in (3, 9):
    print(f"nu = {nu}:", quantile_odd(p, nu))
