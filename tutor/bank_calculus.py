"""Problem families for the practice bank, part 2: exponents and logarithms, trigonometry, derivatives,
integrals, limits and sequences (written for this project).

Same shape as ``tutor.bank_algebra``: ``f(rng, i) -> dict`` with exact answers computed by hand-written formulas
(integers, ``Fraction``, and exact-value tables for trigonometry), never by sympy. Not covered: algebra families.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction as F

from tutor.bank_algebra import Entry, entry, frac, nz, poly, signed

# ---- exponents and logarithms
def log_eval(rng: random.Random, i: int) -> Entry:
    base, k = rng.choice([(2, 3), (2, 5), (2, 6), (3, 2), (3, 4), (5, 3), (10, 3), (4, 3), (2, 7)])
    n = base ** k
    return entry(f"Evaluate $\\log_{{{base}}} {n}$.", str(k),
                 [f"What power of {base} gives {n}?",
                  f"\\(\\log_{{{base}}} {n} = k\\) means \\({base}^k = {n}\\).",
                  f"Try small powers: \\({base}^2 = {base ** 2}\\), \\({base}^3 = {base ** 3}\\), …",
                  f"Keep multiplying by {base} until you reach {n}, counting the factors."],
                 str(n // base))


def exp_equation(rng: random.Random, i: int) -> Entry:
    base, k = rng.choice([(2, 5), (2, 6), (3, 4), (3, 3), (5, 3), (2, 7), (4, 3)])
    m = nz(rng, -3, 3)
    n = base ** k
    return entry(f"Solve ${base}^{{x {signed(m)}}} = {n}$.", f"x = {k - m}",
                 ["Can you write the right-hand side as a power of the same base?",
                  f"\\({n} = {base}^{{{k}}}\\); equal powers of the same base have equal exponents.",
                  f"So \\(x {signed(m)} = {k}\\).", f"Solve \\(x {signed(m)} = {k}\\) for x."],
                 f"x = {k + m}")


def log_equation(rng: random.Random, i: int) -> Entry:
    if i % 2 == 0:
        a, c = rng.randint(2, 5), rng.choice([3, 5, 7, 10])
        return entry(f"Solve $e^{{{a}x}} = {c}$.", f"x = \\frac{{\\ln {c}}}{{{a}}}",
                     ["Which function undoes the exponential?", "Take the natural logarithm of both sides.",
                      f"\\(\\ln(e^{{{a}x}}) = {a}x\\), so \\({a}x = \\ln {c}\\).", f"Divide by {a}."],
                     f"x = {a} \\ln {c}")
    k, a = rng.randint(2, 5), rng.randint(-5, 6)
    return entry(f"Solve $\\log_2(x {signed(a)}) = {k}$.", f"x = {2 ** k - a}",
                 ["Rewrite the logarithm as a power.", f"\\(\\log_2(y) = {k}\\) means \\(y = 2^{{{k}}}\\).",
                  f"So \\(x {signed(a)} = {2 ** k}\\).", f"Solve \\(x {signed(a)} = {2 ** k}\\)."],
                 f"x = {2 ** k + a}")


# ---- trigonometry: (function, angle in degrees, exact value, wrong value)
_TRIG = [("sin", 30, "\\frac{1}{2}", "\\frac{\\sqrt{3}}{2}"), ("cos", 30, "\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}"),
         ("sin", 45, "\\frac{\\sqrt{2}}{2}", "\\frac{1}{2}"), ("cos", 60, "\\frac{1}{2}", "\\frac{\\sqrt{3}}{2}"),
         ("tan", 45, "1", "\\frac{\\sqrt{2}}{2}"), ("tan", 60, "\\sqrt{3}", "\\frac{\\sqrt{3}}{3}"),
         ("sin", 120, "\\frac{\\sqrt{3}}{2}", "-\\frac{\\sqrt{3}}{2}"), ("cos", 135, "-\\frac{\\sqrt{2}}{2}",
                                                                            "\\frac{\\sqrt{2}}{2}"),
         ("cos", 180, "-1", "1"), ("sin", 210, "-\\frac{1}{2}", "\\frac{1}{2}"), ("tan", 30, "\\frac{\\sqrt{3}}{3}",
                                                                                 "\\sqrt{3}")]


def _radians(deg: int) -> str:
    q = F(deg, 180)
    if q == 1:
        return "\\pi"
    return f"\\frac{{{q.numerator if q.numerator != 1 else ''}\\pi}}{{{q.denominator}}}" if q.denominator != 1 \
        else f"{q.numerator}\\pi"


def trig_value(rng: random.Random, i: int) -> Entry:
    fn, deg, value, wrong = _TRIG[(i * 3 + rng.randint(0, 2)) % len(_TRIG)]
    angle = _radians(deg) if i % 2 else f"{deg}^\\circ"
    return entry(f"Find the exact value of $\\{fn}\\left({angle}\\right)$.", value,
                 ["Which special triangle or point on the unit circle does this angle belong to?",
                  f"Find the reference angle of {deg}° and the sign of {fn} in that quadrant.",
                  "Recall the 30-60-90 and 45-45-90 triangles: sides \\(1, \\sqrt{3}, 2\\) and "
                  "\\(1, 1, \\sqrt{2}\\).",
                  f"{fn} = opposite/hypotenuse for sin, adjacent/hypotenuse for cos, opposite/adjacent for tan; "
                  f"then apply the quadrant's sign."],
                 wrong)


def trig_radians(rng: random.Random, i: int) -> Entry:
    deg = rng.choice([15, 36, 40, 72, 75, 108, 135, 150, 225, 240, 270, 300, 315, 330])
    g = math.gcd(deg, 180)
    return entry(f"Convert ${deg}^\\circ$ to radians.", _radians(deg),
                 ["How many radians are in a half turn?", "\\(180^\\circ = \\pi\\) radians.",
                  f"Multiply {deg} by \\(\\frac{{\\pi}}{{180}}\\).",
                  f"Simplify \\(\\frac{{{deg}}}{{180}}\\): divide top and bottom by {g}."],
                 f"\\frac{{{deg}}}{{180}}")


def trig_triangle(rng: random.Random, i: int) -> Entry:
    h = rng.choice([4, 6, 8, 10, 12, 14, 20])
    angle, side, ans, wrong, fn = [(30, "opposite", f"{h // 2}", f"{h // 2}\\sqrt{{3}}", "sin"),
                                   (30, "adjacent to", f"{h // 2}\\sqrt{{3}}", f"{h // 2}", "cos"),
                                   (60, "opposite", f"{h // 2}\\sqrt{{3}}", f"{h // 2}", "sin"),
                                   (45, "opposite", f"{h // 2}\\sqrt{{2}}", f"{h}\\sqrt{{2}}", "sin")][i % 4]
    return entry(f"In a right triangle the hypotenuse is {h} cm and one acute angle is ${angle}^\\circ$. "
                 f"How long is the side {side} that angle, in cm?", ans,
                 ["Which trigonometric ratio links this side with the hypotenuse?",
                  f"Use {fn}: the side is \\({h} \\cdot \\{fn}({angle}^\\circ)\\).",
                  f"\\(\\{fn}({angle}^\\circ)\\) has an exact value: recall the special triangles.",
                  f"Multiply {h} by the exact value of \\(\\{fn}({angle}^\\circ)\\)."],
                 wrong)


# ---- derivatives
def deriv_poly(rng: random.Random, i: int) -> Entry:
    a, b, c, d = nz(rng, -5, 6), rng.randint(-6, 6), rng.randint(-9, 9), nz(rng, -9, 9)
    return entry(f"Find the derivative of $f(x) = {poly([a, b, c, d])}$.", poly([3 * a, 2 * b, c]),
                 ["Differentiate term by term.", "Power rule: \\(\\frac{d}{dx} x^n = n x^{n-1}\\); a constant's "
                  "derivative is 0.",
                  f"\\(\\frac{{d}}{{dx}}\\left({poly([a, 0, 0, 0])}\\right) = {poly([3 * a, 0, 0])}\\).",
                  f"Do the same for \\({poly([b, 0, 0]) if b else '0'}\\) and \\({poly([c, 0]) if c else '0'}\\); the "
                  f"constant {d} disappears."],
                 poly([3 * a, 2 * b, c + d]) if d else poly([a, b, c]))


def deriv_product(rng: random.Random, i: int) -> Entry:
    n, k = rng.randint(2, 4), rng.randint(2, 5)
    return entry(f"Find $\\frac{{d}}{{dx}}\\left(x^{{{n}}} e^{{{k}x}}\\right)$.",
                 f"{n}x^{{{n - 1}}} e^{{{k}x}} + {k}x^{{{n}}} e^{{{k}x}}",
                 ["This is a product of two functions of x.", "Product rule: \\((uv)' = u'v + uv'\\).",
                  f"Take \\(u = x^{{{n}}}\\), \\(v = e^{{{k}x}}\\): \\(u' = {n}x^{{{n - 1}}}\\).",
                  f"By the chain rule \\(v' = {k}e^{{{k}x}}\\); now assemble \\(u'v + uv'\\)."],
                 f"{n * k}x^{{{n - 1}}} e^{{{k}x}}")


def deriv_chain(rng: random.Random, i: int) -> Entry:
    a = rng.randint(1, 9)
    if i % 2 == 0:
        return entry(f"Differentiate $y = \\ln(x^2 + {a})$.", f"\\frac{{2x}}{{x^2 + {a}}}",
                     ["The logarithm has an inner function: which rule handles that?",
                      "Chain rule: \\(\\frac{d}{dx}\\ln(u) = \\frac{u'}{u}\\).",
                      f"The inner function is \\(u = x^2 + {a}\\), with \\(u' = 2x\\).",
                      f"Put \\(u'\\) over \\(u\\)."],
                     f"\\frac{{1}}{{x^2 + {a}}}")
    return entry(f"Differentiate $y = \\sin({a}x^2)$.", f"{2 * a}x \\cos({a}x^2)",
                 ["The sine has an inner function: which rule handles that?",
                  "Chain rule: \\(\\frac{d}{dx}\\sin(u) = \\cos(u) \\cdot u'\\).",
                  f"The inner function is \\(u = {a}x^2\\), with \\(u' = {2 * a}x\\).",
                  f"Multiply \\(\\cos({a}x^2)\\) by \\({2 * a}x\\)."],
                 f"\\cos({a}x^2)")


# ---- integrals
def integ_poly(rng: random.Random, i: int) -> Entry:
    a, b, c = rng.choice([3, 6, 9, -3]), rng.choice([2, 4, -2, 6]), nz(rng, -7, 7)
    return entry(f"Find $\\int ({poly([a, b, c])})\\,dx$.", poly([F(a, 3), F(b, 2), c, 0]) + " + C",
                 ["Integrate term by term, and remember the constant.",
                  "Power rule: \\(\\int x^n\\,dx = \\frac{x^{n+1}}{n+1} + C\\) for \\(n \\ne -1\\).",
                  f"\\(\\int {poly([a, 0, 0])}\\,dx = {poly([F(a, 3), 0, 0, 0])}\\).",
                  f"Likewise \\(\\int {poly([b, 0])}\\,dx = {poly([F(b, 2), 0, 0])}\\) and "
                  f"\\(\\int {c}\\,dx = {poly([c, 0])}\\)."],
                 poly([a, b, c, 0]) + " + C")


def integ_definite(rng: random.Random, i: int) -> Entry:
    a, b, k = nz(rng, 1, 6), rng.randint(-4, 6), rng.randint(1, 4)
    value = F(a * k ** 3, 3) + F(b * k ** 2, 2)
    return entry(f"Evaluate $\\int_{{0}}^{{{k}}} ({poly([a, b, 0])})\\,dx$.", frac(value),
                 ["Find an antiderivative first, then use the bounds.",
                  "Fundamental theorem: \\(\\int_a^b f(x)\\,dx = F(b) - F(a)\\).",
                  f"An antiderivative is \\(F(x) = {poly([F(a, 3), F(b, 2), 0, 0])}\\).",
                  f"Compute \\(F({k}) - F(0)\\); here \\(F(0) = 0\\)."],
                 frac(a * k * k + b * k))


def integ_exp(rng: random.Random, i: int) -> Entry:
    if i % 2 == 0:
        k = rng.randint(2, 4)
        return entry(f"Evaluate $\\int_{{0}}^{{1}} e^{{{k}x}}\\,dx$.", f"\\frac{{e^{{{k}}} - 1}}{{{k}}}",
                     ["What is an antiderivative of \\(e^{kx}\\)?",
                      "\\(\\int e^{kx}\\,dx = \\frac{1}{k}e^{kx} + C\\).",
                      f"An antiderivative is \\(\\frac{{1}}{{{k}}}e^{{{k}x}}\\).",
                      f"Evaluate it at 1 and at 0 and subtract: \\(e^0 = 1\\)."],
                     f"e^{{{k}}} - 1")
    m = rng.choice([2, 3, 4, 6])
    return entry(f"Evaluate $\\int_{{0}}^{{\\pi/{m}}} \\cos(x)\\,dx$.",
                 {2: "1", 3: "\\frac{\\sqrt{3}}{2}", 4: "\\frac{\\sqrt{2}}{2}", 6: "\\frac{1}{2}"}[m],
                 ["Which function has derivative \\(\\cos x\\)?", "\\(\\int \\cos x\\,dx = \\sin x + C\\).",
                  f"Compute \\(\\sin(\\pi/{m}) - \\sin(0)\\).", "\\(\\sin 0 = 0\\); recall the exact value of the "
                  "other sine."],
                 {2: "0", 3: "\\frac{1}{2}", 4: "1", 6: "\\frac{\\sqrt{3}}{2}"}[m])


# ---- limits
def limit_hole(rng: random.Random, i: int) -> Entry:
    a = nz(rng, -6, 7)
    return entry(f"Find $\\lim_{{x \\to {a}}} \\frac{{x^2 - {a * a}}}{{x {signed(-a)}}}$.", str(2 * a),
                 ["What happens if you substitute directly?",
                  "You get 0/0: factor the numerator and cancel.",
                  f"\\(x^2 - {a * a} = (x {signed(-a)})(x {signed(a)})\\).",
                  f"After cancelling, the limit is that of \\(x {signed(a)}\\) as \\(x \\to {a}\\)."],
                 str(a))


def limit_infinity(rng: random.Random, i: int) -> Entry:
    p, q, r, s, t = nz(rng, 1, 9), rng.randint(-5, 5), nz(rng, 1, 9), rng.randint(-5, 5), nz(rng, -7, 7)
    value = F(p, r)
    wrong = F(q, t) if F(q, t) != value else value + 1
    return entry(f"Find $\\lim_{{x \\to \\infty}} \\frac{{{poly([p, 0, q])}}}{{{poly([r, s, t])}}}$.", frac(value),
                 ["Which terms matter most when x is huge?", "Divide the numerator and denominator by \\(x^2\\).",
                  f"You get \\(\\frac{{{p} + {frac(F(q))}/x^2}}{{{r} + {frac(F(s))}/x + {frac(F(t))}/x^2}}\\).",
                  "Every term with x in a denominator tends to 0."],
                 frac(wrong))


def limit_trig(rng: random.Random, i: int) -> Entry:
    while True:
        k, m = rng.randint(2, 9), rng.randint(1, 5)
        if k != m:
            break
    return entry(f"Find $\\lim_{{x \\to 0}} \\frac{{\\sin({k}x)}}{{{m}x}}$." if m != 1 else
                 f"Find $\\lim_{{x \\to 0}} \\frac{{\\sin({k}x)}}{{x}}$.", frac(F(k, m)),
                 ["Which standard limit involves \\(\\sin\\) over its argument?",
                  "\\(\\lim_{u \\to 0} \\frac{\\sin u}{u} = 1\\).",
                  f"Write \\(\\frac{{\\sin({k}x)}}{{{m}x}} = \\frac{{{k}}}{{{m}}} \\cdot "
                  f"\\frac{{\\sin({k}x)}}{{{k}x}}\\).",
                  f"As \\(x \\to 0\\), \\({k}x \\to 0\\) too, so the second factor tends to 1."],
                 "1")


# ---- sequences
def seq_arith(rng: random.Random, i: int) -> Entry:
    a, d, n = rng.randint(-10, 15), nz(rng, -6, 8), rng.randint(8, 30)
    return entry(f"An arithmetic sequence has first term $a_1 = {a}$ and common difference $d = {d}$. "
                 f"Find $a_{{{n}}}$.", str(a + (n - 1) * d),
                 ["How many times is the difference added to get from \\(a_1\\) to the term you want?",
                  "\\(a_n = a_1 + (n - 1)d\\).", f"Here \\(n - 1 = {n - 1}\\).",
                  f"\\(a_{{{n}}} = {a} + {n - 1} \\cdot ({d})\\)."],
                 str(a + n * d))


def seq_geom(rng: random.Random, i: int) -> Entry:
    a, r, n = rng.randint(1, 5), rng.choice([2, 3, -2]), rng.randint(5, 8)
    return entry(f"A geometric sequence has first term ${a}$ and common ratio ${r}$. Find its {n}th term.",
                 str(a * r ** (n - 1)),
                 ["How many times is the first term multiplied by the ratio?", "\\(a_n = a_1 r^{n-1}\\).",
                  f"Here \\(r^{{n-1}} = ({r})^{{{n - 1}}} = {r ** (n - 1)}\\).", f"Multiply by the first term, {a}."],
                 str(a * r ** n))


def seq_sum(rng: random.Random, i: int) -> Entry:
    if i % 2 == 0:
        a, d, n = rng.randint(1, 9), rng.randint(2, 7), rng.choice([10, 12, 15, 20])
        total = n * (2 * a + (n - 1) * d) // 2
        return entry(f"Find the sum of the first {n} terms of the arithmetic sequence ${a}, {a + d}, "
                     f"{a + 2 * d}, \\ldots$", str(total),
                     ["Pair the first term with the last, the second with the second-to-last, …",
                      "\\(S_n = \\frac{n}{2}(a_1 + a_n)\\).", f"The last term is \\(a_{{{n}}} = {a + (n - 1) * d}\\).",
                      f"\\(S_{{{n}}} = \\frac{{{n}}}{{2}}({a} + {a + (n - 1) * d})\\)."],
                     str(n * (a + (n - 1) * d)))
    a, r = rng.randint(2, 12), rng.choice([F(1, 2), F(1, 3), F(2, 3), F(1, 4), F(3, 4)])
    total = F(a) / (1 - r)
    return entry(f"Find the sum of the infinite geometric series ${a} + {frac(a * r)} + {frac(a * r * r)} + "
                 "\\cdots$", frac(total),
                 ["Is the ratio small enough for the sum to exist?", "For \\(|r| < 1\\): \\(S = \\frac{a}{1 - r}\\).",
                  f"The ratio is \\(r = {frac(r)}\\).", f"\\(S = \\frac{{{a}}}{{1 - {frac(r)}}}\\)."],
                 frac(F(a) / (1 + r)))
