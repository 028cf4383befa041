"""Worked math solutions generated from templates with random numbers (written for this project, not copied).

Each family picks numbers with a seeded :class:`random.Random`, computes the answer exactly (integers and
:class:`fractions.Fraction`) and writes a step-by-step solution in the tutor's style: LaTeX, a check where it is
cheap, and a final ``\\boxed{}``. The text is calibration data for AWQ: it should look like what the tutor reads
and writes, so the activation statistics match real use. Correctness matters less than for a test set, but every
step here is exact.

Not covered: handwritten examples (``worked_examples.md``), tokenization (``engine.quantize``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from fractions import Fraction
from math import gcd

Problem = tuple[str, str]  # (question, worked solution)


def _frac(q: Fraction) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def _signed(n: int) -> str:
    return f"+ {n}" if n >= 0 else f"- {-n}"


def _poly(terms: list[tuple[int | Fraction, int]]) -> str:
    """LaTeX for a sum of ``coefficient * x^power`` terms, skipping zeros and writing 1x as x and x^1 as x."""
    out = ""
    for coef, power in terms:
        if coef == 0:
            continue
        mag = abs(coef)
        body = _frac(Fraction(mag)) if power == 0 or mag != 1 else ""
        body += "" if power == 0 else ("x" if power == 1 else f"x^{{{power}}}")
        sign = ("-" if coef < 0 else "") if not out else (" - " if coef < 0 else " + ")
        out += sign + body
    return out or "0"


def linear_equation(rng: random.Random) -> Problem:
    x = rng.randint(-12, 15)
    a, c = rng.sample([k for k in range(-9, 10) if k], 2)
    b = rng.randint(-20, 20)
    d = a * x + b - c * x
    q = f"Solve for $x$: ${_poly([(a, 1), (b, 0)])} = {_poly([(c, 1), (d, 0)])}$."
    s = (
        f"Collect the $x$ terms on the left: subtract ${_poly([(c, 1)])}$ from both sides to get "
        f"${_poly([(a - c, 1), (b, 0)])} = {d}$.\n\n"
        f"Move the constant: ${_poly([(a - c, 1)])} = {d} {_signed(-b)} = {d - b}$.\n\n"
        f"Divide by ${a - c}$: $x = \\frac{{{d - b}}}{{{a - c}}} = {x}$.\n\n"
        f"Check: the left side is ${a} \\cdot ({x}) {_signed(b)} = {a * x + b}$ and the right side is "
        f"${c} \\cdot ({x}) {_signed(d)} = {c * x + d}$.\n\nThe answer is $\\boxed{{{x}}}$."
    )
    return q, s


def quadratic_roots(rng: random.Random) -> Problem:
    r1, r2 = rng.choice([-1, 1]) * rng.randint(1, 9), rng.choice([-1, 1]) * rng.randint(1, 9)
    b, c = -(r1 + r2), r1 * r2
    q = f"Solve ${_poly([(1, 2), (b, 1), (c, 0)])} = 0$."
    roots = sorted({r1, r2})
    s = (
        f"We look for two numbers whose product is ${c}$ and whose sum is ${-b}$: they are ${r1}$ and ${r2}$.\n\n"
        f"So the equation factors as $({_poly([(1, 1), (-r1, 0)])})({_poly([(1, 1), (-r2, 0)])}) = 0$.\n\n"
        f"A product is zero when one factor is zero, so $x = {r1}$ or $x = {r2}$.\n\n"
        f"Check with the discriminant: $\\Delta = ({b})^2 - 4 \\cdot ({c}) = {b * b - 4 * c}$, a perfect square "
        f"$({abs(r1 - r2)})^2$, as expected for integer roots.\n\n"
        f"The answer is $\\boxed{{{', '.join(map(str, roots))}}}$."
    )
    return q, s


def fraction_sum(rng: random.Random) -> Problem:
    a, b = rng.randint(1, 9), rng.randint(2, 12)
    c, d = rng.randint(1, 9), rng.randint(2, 12)
    lcm = b * d // gcd(b, d)
    total = Fraction(a, b) + Fraction(c, d)
    q = f"Compute $\\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{d}}}$ and simplify."
    s = (
        f"The least common denominator of ${b}$ and ${d}$ is ${lcm}$.\n\n"
        f"Rewrite both fractions: $\\frac{{{a}}}{{{b}}} = \\frac{{{a * lcm // b}}}{{{lcm}}}$ and "
        f"$\\frac{{{c}}}{{{d}}} = \\frac{{{c * lcm // d}}}{{{lcm}}}$.\n\n"
        f"Add the numerators: $\\frac{{{a * lcm // b + c * lcm // d}}}{{{lcm}}}$"
        + (f", which simplifies to ${_frac(total)}$." if total.denominator != lcm else ", already in lowest terms.")
        + f"\n\nThe answer is $\\boxed{{{_frac(total)}}}$."
    )
    return q, s


def discount(rng: random.Random) -> Problem:
    price = rng.randint(8, 240) * 5
    pct = rng.choice([10, 15, 20, 25, 30, 40])
    item = rng.choice(["jacket", "bicycle helmet", "board game", "pair of shoes", "desk lamp", "backpack"])
    off, final = price * pct / 100, price * (100 - pct) / 100  # exact: price is a multiple of 5
    q = f"A {item} costs \\${price}. It is on sale for {pct}% off. What is the sale price?"
    s = (
        f"{pct}% of \\${price} is $\\frac{{{pct}}}{{100}} \\times {price} = {off:.2f}$ dollars.\n\n"
        f"Subtract the discount: ${price} - {off:.2f} = {final:.2f}$.\n\n"
        f"Another way: the sale price is {100 - pct}% of the original, and "
        f"${(100 - pct) / 100:g} \\times {price} = {final:.2f}$.\n\n"
        f"The sale price is $\\boxed{{{final:.2f}}}$ dollars."
    )
    return q, s


def derivative(rng: random.Random) -> Problem:
    powers = sorted(rng.sample(range(2, 6), 2), reverse=True) + [1]
    terms = [(rng.choice([-1, 1]) * rng.randint(1, 9), p) for p in powers] + [(rng.randint(-9, 9), 0)]
    at = rng.randint(-3, 3)
    deriv = [(k * p, p - 1) for k, p in terms if p > 0]
    value = sum(k * at**p for k, p in deriv)
    q = f"Find $f'(x)$ for $f(x) = {_poly(terms)}$, then compute $f'({at})$."
    rule = ", ".join(f"$\\frac{{d}}{{dx}}\\left({_poly([(k, p)])}\\right) = {_poly([(k * p, p - 1)])}$"
                     for k, p in terms if p > 0)
    s = (
        f"Differentiate term by term with the power rule $\\frac{{d}}{{dx}} x^n = n x^{{n-1}}$: {rule}; "
        f"the constant term has derivative $0$.\n\n"
        f"So $f'(x) = {_poly(deriv)}$.\n\n"
        f"Substitute $x = {at}$: $f'({at}) = {value}$.\n\nThe answer is $f'({at}) = \\boxed{{{value}}}$."
    )
    return q, s


def definite_integral(rng: random.Random) -> Problem:
    a, b = sorted(rng.sample(range(-2, 6), 2))
    k, m = rng.randint(1, 6), rng.choice([-1, 1]) * rng.randint(1, 5)
    anti = lambda t: Fraction(k, 2) * t * t + m * t  # noqa: E731  (F(t) for f(t) = k t + m)
    value = anti(b) - anti(a)
    q = f"Compute $\\int_{{{a}}}^{{{b}}} ({_poly([(k, 1), (m, 0)])})\\,dx$."
    s = (
        f"An antiderivative of ${_poly([(k, 1), (m, 0)])}$ is $F(x) = {_poly([(Fraction(k, 2), 2), (m, 1)])}$.\n\n"
        f"Evaluate at the limits: $F({b}) = {_frac(anti(b))}$ and $F({a}) = {_frac(anti(a))}$.\n\n"
        f"So the integral is $F({b}) - F({a}) = {_frac(value)}$.\n\nThe answer is $\\boxed{{{_frac(value)}}}$."
    )
    return q, s


def linear_system(rng: random.Random) -> Problem:
    x, y = rng.randint(-8, 8), rng.randint(-8, 8)
    while True:
        a, b, c, d = (rng.randint(-6, 6) or 1 for _ in range(4))
        if a * d - b * c:
            break
    e, f = a * x + b * y, c * x + d * y
    q = f"Solve the system ${_poly([(a, 1)])} {_signed(b)}y = {e}$ and ${_poly([(c, 1)])} {_signed(d)}y = {f}$."
    s = (
        f"Eliminate $y$: multiply the first equation by ${d}$ and the second by ${b}$, then subtract.\n\n"
        f"$({a * d} - ({b * c}))x = {e * d} - ({f * b})$, so ${a * d - b * c}x = {e * d - f * b}$ and $x = {x}$.\n\n"
        f"Substitute into the first equation: ${a} \\cdot ({x}) {_signed(b)}y = {e}$, so ${b}y = {e - a * x}$ "
        f"and $y = {y}$.\n\n"
        f"Check the second equation: ${c} \\cdot ({x}) {_signed(d)} \\cdot ({y}) = {f}$. Correct.\n\n"
        f"The answer is $\\boxed{{(x, y) = ({x}, {y})}}$."
    )
    return q, s


def arithmetic_series(rng: random.Random) -> Problem:
    a1, diff, n = rng.randint(-10, 20), rng.randint(1, 9), rng.randint(8, 60)
    an = a1 + (n - 1) * diff
    total = n * (a1 + an) // 2
    q = (f"An arithmetic sequence starts ${a1}, {a1 + diff}, {a1 + 2 * diff}, \\ldots$ Find the {n}th term and "
         f"the sum of the first {n} terms.")
    s = (
        f"The common difference is $d = {diff}$. The $n$-th term is $a_n = a_1 + (n - 1)d$, so "
        f"$a_{{{n}}} = {a1} + {n - 1} \\cdot {diff} = {an}$.\n\n"
        f"The sum of the first $n$ terms is $S_n = \\frac{{n(a_1 + a_n)}}{{2}} = \\frac{{{n}({a1} + {an})}}{{2}} "
        f"= {total}$.\n\nThe {n}th term is ${an}$ and the sum is $\\boxed{{{total}}}$."
    )
    return q, s


def right_triangle(rng: random.Random) -> Problem:
    m, n = sorted(rng.sample(range(1, 8), 2), reverse=True)
    k = rng.randint(1, 4)
    a, b, c = k * (m * m - n * n), k * 2 * m * n, k * (m * m + n * n)
    q = f"A right triangle has legs {a} cm and {b} cm. Find the hypotenuse, the area and the perimeter."
    s = (
        f"By the Pythagorean theorem, $c^2 = {a}^2 + {b}^2 = {a * a} + {b * b} = {c * c}$, so $c = {c}$ cm.\n\n"
        f"The legs are perpendicular, so the area is $\\frac{{1}}{{2}} \\cdot {a} \\cdot {b} = {a * b // 2}$ "
        f"square cm.\n\nThe perimeter is ${a} + {b} + {c} = {a + b + c}$ cm.\n\n"
        f"The hypotenuse is $\\boxed{{{c}}}$ cm."
    )
    return q, s


def gcd_lcm(rng: random.Random) -> Problem:
    g = rng.choice([2, 3, 4, 6, 8, 9, 12, 15])
    p, r = rng.sample([1, 2, 3, 5, 7, 11, 13], 2)
    a, b = g * p, g * r
    steps, x, y = [], max(a, b), min(a, b)
    while y:
        steps.append(f"${x} = {x // y} \\cdot {y} + {x % y}$")
        x, y = y, x % y
    q = f"Find the greatest common divisor and the least common multiple of {a} and {b}."
    s = (
        "Use the Euclidean algorithm: " + ", ".join(steps) + f". The last non-zero remainder is ${x}$, so "
        f"$\\gcd({a}, {b}) = {x}$.\n\n"
        f"Then $\\operatorname{{lcm}}({a}, {b}) = \\frac{{{a} \\cdot {b}}}{{{x}}} = {a * b // x}$.\n\n"
        f"The gcd is ${x}$ and the lcm is $\\boxed{{{a * b // x}}}$."
    )
    return q, s


def two_draws(rng: random.Random) -> Problem:
    red, blue = rng.randint(2, 9), rng.randint(2, 9)
    n = red + blue
    both = Fraction(red, n) * Fraction(red - 1, n - 1)
    q = (f"A bag holds {red} red and {blue} blue marbles. Two are drawn without replacement. What is the "
         "probability that both are red?")
    s = (
        f"The first marble is red with probability $\\frac{{{red}}}{{{n}}}$. After that, {red - 1} red marbles "
        f"remain among {n - 1}, so the second is red with probability $\\frac{{{red - 1}}}{{{n - 1}}}$.\n\n"
        f"Multiply: $\\frac{{{red}}}{{{n}}} \\cdot \\frac{{{red - 1}}}{{{n - 1}}} = "
        f"\\frac{{{red * (red - 1)}}}{{{n * (n - 1)}}} = {_frac(both)}$.\n\n"
        f"Counting pairs gives the same: $\\binom{{{red}}}{{2}} / \\binom{{{n}}}{{2}} = "
        f"{red * (red - 1) // 2} / {n * (n - 1) // 2}$.\n\nThe answer is $\\boxed{{{_frac(both)}}}$."
    )
    return q, s


def travel(rng: random.Random) -> Problem:
    v1, v2 = rng.randint(4, 12) * 5, rng.randint(4, 12) * 5
    t = rng.randint(1, 5)
    name1, name2 = rng.sample(["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana"], 2)
    q = (f"{name1} and {name2} start from the same town at the same time and drive in opposite directions, "
         f"at {v1} km/h and {v2} km/h. How far apart are they after {t} hours?")
    s = (
        f"Driving in opposite directions, the distance between them grows at ${v1} + {v2} = {v1 + v2}$ km/h.\n\n"
        f"After ${t}$ hours they are ${v1 + v2} \\times {t} = {(v1 + v2) * t}$ km apart.\n\n"
        f"Check: {name1} drives ${v1 * t}$ km and {name2} ${v2 * t}$ km, and ${v1 * t} + {v2 * t} = "
        f"{(v1 + v2) * t}$.\n\nThe answer is $\\boxed{{{(v1 + v2) * t}}}$ km."
    )
    return q, s


def logarithms(rng: random.Random) -> Problem:
    base = rng.choice([2, 3, 5, 10])
    m, k = rng.randint(1, 4), rng.randint(1, 3)
    x, y = base**m, base**k
    q = f"Compute $\\log_{{{base}}} {x} + \\log_{{{base}}} {y}$."
    s = (
        f"Use the product rule $\\log_b u + \\log_b v = \\log_b (uv)$: the sum is $\\log_{{{base}}} {x * y}$.\n\n"
        f"Since ${x} = {base}^{{{m}}}$ and ${y} = {base}^{{{k}}}$, the product is ${base}^{{{m + k}}}$, so the "
        f"logarithm is ${m} + {k} = {m + k}$.\n\nThe answer is $\\boxed{{{m + k}}}$."
    )
    return q, s


def mean_median(rng: random.Random) -> Problem:
    data = [rng.randint(1, 40) for _ in range(rng.choice([5, 6, 7, 8]))]
    ordered = sorted(data)
    n = len(data)
    mean = Fraction(sum(data), n)
    mid = n // 2
    median = Fraction(ordered[mid]) if n % 2 else Fraction(ordered[mid - 1] + ordered[mid], 2)
    q = f"Find the mean and the median of {', '.join(map(str, data))}."
    s = (
        f"The sum is ${' + '.join(map(str, data))} = {sum(data)}$ and there are ${n}$ numbers, so the mean is "
        f"$\\frac{{{sum(data)}}}{{{n}}}" + (f" = {_frac(mean)}" if mean.denominator != n else "")
        + f" \\approx {float(mean):.2f}$.\n\n"
        f"In order: ${', '.join(map(str, ordered))}$. "
        + (f"With {n} numbers the median is the middle one, ${_frac(median)}$."
           if n % 2 else f"With {n} numbers the median is the average of the two middle ones, "
           f"$\\frac{{{ordered[mid - 1]} + {ordered[mid]}}}{{2}} = {_frac(median)}$.")
        + f"\n\nThe mean is ${_frac(mean)}$ and the median is $\\boxed{{{_frac(median)}}}$."
    )
    return q, s


FAMILIES: tuple[Callable[[random.Random], Problem], ...] = (
    linear_equation, quadratic_roots, fraction_sum, discount, derivative, definite_integral, linear_system,
    arithmetic_series, right_triangle, gcd_lcm, two_draws, travel, logarithms, mean_median,
)


def problems(seed: int = 0) -> Iterator[Problem]:
    """An endless, reproducible stream of worked problems, cycling through the families in a shuffled order."""
    rng = random.Random(seed)
    while True:
        order = list(FAMILIES)
        rng.shuffle(order)
        for family in order:
            yield family(rng)
