"""Problem families for the practice bank, part 1: arithmetic through functions (written for this project).

Each family is ``f(rng, i) -> dict`` with statement, answer, rules, four hints and a distractor (a near-miss wrong
answer). Numbers are drawn from the seeded ``rng`` and answers are computed exactly with integers and
``Fraction`` — independently of sympy, so the bank can measure the CAS verifier. Used only by
``tutor/generate_bank.py``; the app reads the generated ``tutor/bank.json``. Not covered: calculus and the rest
(``tutor.bank_calculus``).
"""

from __future__ import annotations

import math
import random
from fractions import Fraction as F
from typing import Any

Entry = dict[str, Any]


def frac(q: F | int) -> str:
    q = F(q)
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def poly(coeffs: list[int | F], var: str = "x") -> str:
    """Coefficients from the highest power down → ``3x^2 - 2x + 1``."""
    n = len(coeffs) - 1
    out = ""
    for k, c in enumerate(coeffs):
        c = F(c)
        p = n - k
        if c == 0:
            continue
        sign = " - " if c < 0 else (" + " if out else "")
        if not out and c < 0:
            sign = "-"
        mag = abs(c)
        body = "" if (mag == 1 and p > 0) else frac(mag)
        if p > 0:
            body += var + (f"^{{{p}}}" if p > 1 else "")
        out += sign + body
    return out or "0"


def nz(rng: random.Random, lo: int, hi: int, avoid: tuple[int, ...] = (0,)) -> int:
    while True:
        v = rng.randint(lo, hi)
        if v not in avoid:
            return v


def entry(statement: str, answer: str, hints: list[str], distractor: str, **rules: Any) -> Entry:
    return {"statement": statement, "answer": answer, "rules": rules, "hints": hints, "distractor": distractor}


def signed(n: int | F) -> str:
    return f"+ {frac(n)}" if n >= 0 else f"- {frac(-n)}"


def term(c: int, var: str) -> str:
    """`` + 3y``, `` - y``: a signed term after the first."""
    mag = "" if abs(c) == 1 else str(abs(c))
    return f"{'+' if c > 0 else '-'} {mag}{var}"


def linear(coeffs: list[int], names: str) -> str:
    """``[2, -1, 1], "xyz"`` → ``2x - y + z``."""
    first = poly([coeffs[0], 0], names[0])
    return " ".join([first] + [term(c, v) for c, v in zip(coeffs[1:], names[1:])])


# ---- arithmetic
def arith_product(rng: random.Random, i: int) -> Entry:
    a, b = rng.randint(12, 49), rng.randint(13, 39)
    t, o = (b // 10) * 10, b % 10
    return entry(f"Compute ${a} \\times {b}$.", str(a * b),
                 ["Can you split one of the numbers into tens and ones?",
                  f"Use the distributive law: \\({a} \\times {b} = {a} \\times {t} + {a} \\times {o}\\).",
                  f"Work out \\({a} \\times {t}\\) and \\({a} \\times {o}\\) separately.",
                  f"\\({a} \\times {t} = {a * t}\\) and \\({a} \\times {o} = {a * o}\\); now add them."],
                 str(a * b + 10))


def arith_order(rng: random.Random, i: int) -> Entry:
    a, b, c, d = rng.randint(2, 20), rng.randint(2, 9), rng.randint(5, 12), rng.randint(1, 4)
    value = a + b * (c - d) ** 2
    return entry(f"Evaluate ${a} + {b} \\cdot ({c} - {d})^2$.", str(value),
                 ["Which operation comes first: brackets, powers, multiplication or addition?",
                  "Brackets first, then the power, then multiplication, and addition last.",
                  f"\\({c} - {d} = {c - d}\\), so the expression is \\({a} + {b} \\cdot {c - d}^2\\).",
                  f"\\({c - d}^2 = {(c - d) ** 2}\\) and \\({b} \\cdot {(c - d) ** 2} = {b * (c - d) ** 2}\\)."],
                 str((a + b) * (c - d) ** 2))


def arith_units(rng: random.Random, i: int) -> Entry:
    if i % 2 == 0:
        t = rng.randint(2, 5)
        v = rng.choice([12, 15, 18, 20, 24])
        return entry(f"A cyclist rides {v * t} km in {t} hours at a constant speed. What is the speed? "
                     "Give the unit.", f"{v} km/h",
                     ["What does speed measure: distance per what?",
                      "Speed = distance ÷ time, and the unit is km per hour.",
                      f"Divide {v * t} km by {t} h.",
                      f"\\({v * t} \\div {t}\\) — the unit is km/h."],
                     f"{v * t * t} km/h", units_required=True)
    length, width = rng.randint(6, 15), rng.randint(3, 9)
    return entry(f"A rectangle is {length} cm long and {width} cm wide. What is its area? Give the unit.",
                 f"{length * width} cm^2",
                 ["Area counts unit squares inside the shape.",
                  "The area of a rectangle is length × width, in square units.",
                  f"Multiply {length} cm by {width} cm.",
                  f"\\({length} \\times {width}\\); cm × cm gives cm²."],
                 f"{2 * (length + width)} cm^2", units_required=True)


# ---- fractions and percentages
def frac_sum(rng: random.Random, i: int) -> Entry:
    b, d = rng.choice([(3, 4), (4, 6), (5, 6), (6, 8), (3, 5), (2, 7), (4, 10), (6, 9)])
    a, c = nz(rng, 1, b - 1), nz(rng, 1, d - 1)
    total = F(a, b) + F(c, d)
    lcd = b * d // math.gcd(b, d)
    return entry(f"Compute $\\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{d}}}$ and simplify.", frac(total),
                 ["Can you add fractions with different denominators directly?",
                  "Rewrite both fractions over a common denominator, then add the numerators.",
                  f"The least common denominator of {b} and {d} is {lcd}.",
                  f"\\(\\frac{{{a}}}{{{b}}} = \\frac{{{a * lcd // b}}}{{{lcd}}}\\) and "
                  f"\\(\\frac{{{c}}}{{{d}}} = \\frac{{{c * lcd // d}}}{{{lcd}}}\\); add and simplify."],
                 frac(F(a + c, b + d)) if F(a + c, b + d) != total else frac(total + 1), form="simplified")


def percent_of(rng: random.Random, i: int) -> Entry:
    p = rng.choice([5, 15, 20, 25, 30, 35, 40, 60, 75])
    n = rng.choice([40, 60, 80, 120, 160, 200, 240, 360])
    value = F(p * n, 100)
    return entry(f"What is {p}% of {n}?", frac(value),
                 ["What does 'percent' mean?",
                  f"{p}% means {p} hundredths, so multiply {n} by \\(\\frac{{{p}}}{{100}}\\).",
                  f"First find 1% of {n}: \\({n} \\div 100 = {frac(F(n, 100))}\\).",
                  f"Now multiply 1% by {p}: \\({p} \\times {frac(F(n, 100))}\\)."],
                 frac(F(p * n, 10)))


def percent_change(rng: random.Random, i: int) -> Entry:
    price = rng.choice([40, 50, 80, 120, 150, 200, 250])
    up, down = rng.choice([10, 20, 25, 30, 50]), rng.choice([10, 20, 25, 40])
    final = F(price) * F(100 + up, 100) * F(100 - down, 100)
    return entry(f"A price of {price} euros is raised by {up}% and the new price is then lowered by {down}%. "
                 "What is the final price in euros?", f"{float(final):.2f}",
                 ["Does the second percentage apply to the old price or the new one?",
                  f"Each change multiplies the current price: by \\({frac(F(100 + up, 100))}\\), then by "
                  f"\\({frac(F(100 - down, 100))}\\).",
                  f"After the rise the price is \\({price} \\times {frac(F(100 + up, 100))} = "
                  f"{frac(F(price) * F(100 + up, 100))}\\) euros.",
                  f"Now take {down}% off {frac(F(price) * F(100 + up, 100))} euros."],
                 f"{float(F(price) * F(100 + up - down, 100)):.2f}", tolerance=0.01)


# ---- linear equations
def linear_basic(rng: random.Random, i: int) -> Entry:
    a, x0, b = nz(rng, 2, 9), rng.randint(-9, 12), nz(rng, -15, 15)
    c = a * x0 + b
    return entry(f"Solve ${a}x {signed(b)} = {c}$.", f"x = {x0}",
                 ["What is being done to x, and in which order?",
                  "Undo the operations in reverse order: first the addition, then the multiplication.",
                  f"Subtract {b} from both sides: \\({a}x = {c - b}\\)." if b > 0 else
                  f"Add {-b} to both sides: \\({a}x = {c - b}\\).",
                  f"\\({a}x = {c - b}\\); divide both sides by {a}."],
                 f"x = {frac(F(c + b, a))}" if F(c + b, a) != x0 else f"x = {x0 + 1}")


def linear_brackets(rng: random.Random, i: int) -> Entry:
    while True:
        a, b, c, x0 = nz(rng, 2, 6), nz(rng, -5, 5), nz(rng, 1, 7), rng.randint(-6, 8)
        if a != c and x0 != 0:
            break
    d = a * (x0 - b) - c * x0
    return entry(f"Solve ${a}(x {signed(-b)}) = {c}x {signed(d)}$.", f"x = {x0}",
                 ["Start by getting rid of the brackets.",
                  "Expand, collect the x terms on one side and the numbers on the other.",
                  f"Expanding gives \\({a}x {signed(-a * b)} = {c}x {signed(d)}\\).",
                  f"Move the terms: \\({a - c}x = {d + a * b}\\)."],
                 f"x = {-x0}")


def linear_fractions(rng: random.Random, i: int) -> Entry:
    while True:
        a, c = rng.randint(1, 8), rng.randint(1, 8)
        b, d = rng.choice([(2, 3), (3, 4), (2, 5), (3, 5), (4, 3), (5, 2)])
        x0 = F(-(b * c + d * a), d - b)
        if x0 != 0:
            break
    return entry(f"Solve $\\frac{{x + {a}}}{{{b}}} = \\frac{{x - {c}}}{{{d}}}$.", f"x = {frac(x0)}",
                 ["How can you clear the fractions?",
                  f"Multiply both sides by {b * d} (or cross-multiply).",
                  f"Cross-multiplying gives \\({d}(x + {a}) = {b}(x - {c})\\).",
                  f"Expand: \\({d}x + {d * a} = {b}x - {b * c}\\); collect the x terms."],
                 f"x = {frac(-x0)}")


# ---- quadratics
def _roots(rng: random.Random) -> tuple[int, int]:
    while True:
        r1, r2 = rng.randint(-8, 8), rng.randint(-8, 8)
        if r1 != r2 and r1 != -r2 and 0 not in (r1, r2):
            return min(r1, r2), max(r1, r2)


def quad_solve(rng: random.Random, i: int) -> Entry:
    r1, r2 = _roots(rng)
    p, q = -(r1 + r2), r1 * r2
    return entry(f"Solve $x^2 {signed(p)}x {signed(q)} = 0$.", f"x = {r1}, x = {r2}",
                 ["Can the left-hand side be written as a product?",
                  f"Look for two numbers that multiply to {q} and add to {p}.",
                  f"They are {-r1} and {-r2}: \\((x {signed(-r1)})(x {signed(-r2)}) = 0\\).",
                  "A product is zero when one of its factors is zero: set each bracket to zero."],
                 f"x = {-r1}, x = {-r2}")


def quad_factor(rng: random.Random, i: int) -> Entry:
    r1, r2 = _roots(rng)
    p, q = -(r1 + r2), r1 * r2
    return entry(f"Factor $x^2 {signed(p)}x {signed(q)}$.", f"(x {signed(-r1)})(x {signed(-r2)})",
                 ["A monic quadratic factors as \\((x + m)(x + n)\\). What must m and n satisfy?",
                  f"You need \\(m \\cdot n = {q}\\) and \\(m + n = {p}\\).",
                  f"List the factor pairs of {q} and check which pair adds to {p}.",
                  f"The pair is {-r1} and {-r2}."],
                 f"(x {signed(r1)})(x {signed(r2)})", form="factored")


def quad_general(rng: random.Random, i: int) -> Entry:
    while True:
        a, p, r2 = rng.randint(2, 5), nz(rng, -7, 7), nz(rng, -6, 6)
        if p % a != 0:
            break
    b, c = -(a * r2 + p), p * r2
    r1 = F(p, a)
    return entry(f"Solve ${a}x^2 {signed(b)}x {signed(c)} = 0$.",
                 f"x = {frac(min(r1, r2))}, x = {frac(max(r1, r2))}",
                 ["Try factoring before reaching for the formula.",
                  f"Look for a factorisation \\(({a}x - p)(x - q)\\), or use the quadratic formula.",
                  f"The discriminant is \\({b}^2 - 4 \\cdot {a} \\cdot {c} = {b * b - 4 * a * c}\\), "
                  f"a perfect square.",
                  f"\\({a}x^2 {signed(b)}x {signed(c)} = ({a}x {signed(-p)})(x {signed(-r2)})\\)."],
                 f"x = {r2}")


# ---- systems
def system_sum(rng: random.Random, i: int) -> Entry:
    while True:
        x0, y0 = rng.randint(-5, 12), rng.randint(-5, 12)
        if x0 != y0:
            break
    return entry(f"Solve the system of equations: $x + y = {x0 + y0}$ and $x - y = {x0 - y0}$.",
                 f"x = {x0}, y = {y0}",
                 ["What happens if you add the two equations?",
                  "Adding the equations eliminates y.",
                  f"Adding gives \\(2x = {2 * x0}\\).",
                  f"So \\(x = {x0}\\); substitute it into \\(x + y = {x0 + y0}\\)."],
                 f"x = {y0}, y = {x0}")


def system_general(rng: random.Random, i: int) -> Entry:
    while True:
        a1, b1, a2, b2 = nz(rng, -5, 5), nz(rng, -5, 5), nz(rng, -5, 5), nz(rng, -5, 5)
        x0, y0 = rng.randint(-6, 6), nz(rng, -6, 6)
        if a1 * b2 - a2 * b1 != 0 and x0 != y0:
            break
    c1, c2 = a1 * x0 + b1 * y0, a2 * x0 + b2 * y0
    return entry(f"Solve the system of equations: ${linear([a1, b1], 'xy')} = {c1}$ and "
                 f"${linear([a2, b2], 'xy')} = {c2}$.", f"x = {x0}, y = {y0}",
                 ["Can you make the x terms (or y terms) cancel?",
                  f"Multiply the first equation by {a2} and the second by {a1}, then subtract.",
                  f"That leaves \\({a2 * b1 - a1 * b2}y = {a2 * c1 - a1 * c2}\\).",
                  f"So \\(y = {y0}\\); substitute back into the first equation to find x."],
                 f"x = {x0}, y = {-y0}")


def system_three(rng: random.Random, i: int) -> Entry:
    while True:
        x0, y0, z0 = rng.randint(-4, 5), rng.randint(-4, 5), nz(rng, -4, 5)
        k = nz(rng, 2, 3)
        rows = [(1, 1, 1), (1, -1, 1), (k, 1, -1)]
        det = 1 * (-1 * -1 - 1 * 1) - 1 * (1 * -1 - 1 * k) + 1 * (1 * 1 - (-1) * k)
        if det != 0:
            break
    rhs = [a * x0 + b * y0 + c * z0 for a, b, c in rows]
    eqs = [f"{linear([a, b, c], 'xyz')} = {r}" for (a, b, c), r in zip(rows, rhs)]
    return entry("Solve the system of equations: " + ", ".join(f"${e}$" for e in eqs) + ".",
                 f"x = {x0}, y = {y0}, z = {z0}",
                 ["Which variable is easiest to eliminate first?",
                  "Subtracting the second equation from the first eliminates both x and z.",
                  f"\\((x + y + z) - (x - y + z) = {rhs[0]} - ({rhs[1]})\\) gives \\(2y = {rhs[0] - rhs[1]}\\).",
                  f"So \\(y = {y0}\\); put it into the first and third equations and solve for x and z."],
                 f"x = {x0}, y = {y0}, z = {-z0}")


# ---- inequalities
def ineq_basic(rng: random.Random, i: int) -> Entry:
    a, b, c = nz(rng, 2, 7), nz(rng, -12, 12), rng.randint(-10, 20)
    k = F(c - b, a)
    return entry(f"Solve ${a}x {signed(b)} > {c}$.", f"x > {frac(k)}",
                 ["Solve it like an equation, but keep an eye on the inequality sign.",
                  "Adding, subtracting, or dividing by a positive number keeps the direction of the sign.",
                  f"Move the constant: \\({a}x > {c - b}\\).",
                  f"Divide both sides by {a} (positive, so the sign stays)."],
                 f"x < {frac(k)}")


def ineq_flip(rng: random.Random, i: int) -> Entry:
    a, b, c = nz(rng, 2, 6), rng.randint(-10, 10), rng.randint(-10, 10)
    k = F(b - c, a)
    return entry(f"Solve $-{a}x {signed(b)} \\le {c}$.", f"x \\ge {frac(k)}",
                 ["What happens to an inequality when you divide by a negative number?",
                  "Dividing both sides by a negative number reverses the inequality sign.",
                  f"Move the constant: \\(-{a}x \\le {c - b}\\).",
                  f"Divide by \\(-{a}\\) and flip the sign."],
                 f"x \\le {frac(k)}")


def ineq_hard(rng: random.Random, i: int) -> Entry:
    if i % 2 == 0:
        r1, r2 = _roots(rng)
        p, q = -(r1 + r2), r1 * r2
        return entry(f"Solve $x^2 {signed(p)}x {signed(q)} < 0$.", f"{r1} < x < {r2}",
                     ["Where is the quadratic zero, and what shape is its graph?",
                      "Factor it; an upward parabola is negative between its roots.",
                      f"\\(x^2 {signed(p)}x {signed(q)} = (x {signed(-r1)})(x {signed(-r2)})\\), with roots {r1} "
                      f"and {r2}.",
                      "Test a point between the roots: the product is negative there."],
                     f"x < {r1} or x > {r2}")
    a, b = rng.randint(-6, 6), rng.randint(2, 9)
    return entry(f"Solve $|x {signed(-a)}| \\le {b}$.", f"{a - b} \\le x \\le {a + b}",
                 ["What does \\(|x - a| \\le b\\) say about the distance between x and a?",
                  f"\\(|x {signed(-a)}| \\le {b}\\) means \\(-{b} \\le x {signed(-a)} \\le {b}\\).",
                  f"Add {a} to all three parts." if a >= 0 else f"Subtract {-a} from all three parts.",
                  f"\\({-b} {signed(a)} \\le x \\le {b} {signed(a)}\\)."],
                 f"{a - b} < x < {a + b}")


# ---- functions
def func_value(rng: random.Random, i: int) -> Entry:
    a, b, c, k = nz(rng, -4, 5), rng.randint(-6, 6), rng.randint(-9, 9), nz(rng, -4, 4)
    value = a * k * k + b * k + c
    other = a * k * k - b * k + c
    return entry(f"If $f(x) = {poly([a, b, c])}$, find $f({k})$.", str(value),
                 ["What does f(k) mean?", f"Replace every x in the formula by {k}.",
                  f"\\(f({k}) = {a}({k})^2 {signed(b)}({k}) {signed(c)}\\).",
                  f"\\(({k})^2 = {k * k}\\), so the first term is \\({a * k * k}\\)."],
                 str(other if other != value else value + 1))


def func_compose(rng: random.Random, i: int) -> Entry:
    a, b, c, k = nz(rng, 2, 5), rng.randint(-6, 6), rng.randint(-5, 5), nz(rng, -3, 4)
    g = k * k + c
    value, wrong = a * g + b, (a * k + b) ** 2 + c
    return entry(f"Let $f(x) = {poly([a, b])}$ and $g(x) = {poly([1, 0, c])}$. Find $f(g({k}))$.", str(value),
                 ["Which function acts first in \\(f(g(x))\\)?", "Work from the inside out: g first, then f.",
                  f"\\(g({k}) = ({k})^2 {signed(c)} = {g}\\).",
                  f"Now compute \\(f({g}) = {a} \\cdot {g} {signed(b)}\\)."],
                 str(wrong if wrong != value else value + 1))


def func_inverse(rng: random.Random, i: int) -> Entry:
    a, b = nz(rng, 2, 7), nz(rng, -9, 9)
    return entry(f"Find the inverse function of $f(x) = {poly([a, b])}$.", f"\\frac{{x {signed(-b)}}}{{{a}}}",
                 ["An inverse undoes f. What does f do to x, step by step?",
                  "Write \\(y = f(x)\\), swap x and y, and solve for y.",
                  f"Swapping gives \\(x = {a}y {signed(b)}\\).",
                  f"\\({a}y = x {signed(-b)}\\); divide by {a}."],
                 f"\\frac{{x {signed(b)}}}{{{a}}}")
