"""Per-problem form rules, checked on the answer *as typed* once it is known to be equivalent.

* ``factored``: a product or power (a constant factor allowed) whose polynomial factors are irreducible over
  the rationals; an expression whose reference cannot be factored may stay as it is.
* ``expanded``: no product or integer power of a sum that contains a variable.
* ``simplified``: no fraction that can be reduced, no radical with a perfect-power factor (``√8``), no like terms
  or number arithmetic left to do (``x + x``, ``3 + 4``, ``x·x``), and no longer (sympy's ``count_ops``) than the
  simplest form of the reference.
* ``exact``: no decimals (a decimal that equals the reference exactly, such as ``0.5`` for ``1/2``, is exact).
* ``decimal``: a decimal number.
Each check returns a reason code for ``checker.feedback`` or ``None``. Not covered: equivalence itself.
"""

from __future__ import annotations

import math
import re

import sympy
from sympy import Float

from checker.nodes import exact, has_decimal
from checker.numeric import decimal_of

_FRAC = re.compile(r"\\frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")


def _has_symbols(e: sympy.Basic) -> bool:
    return bool(getattr(e, "free_symbols", None))


def not_expanded(tree: sympy.Basic) -> bool:
    for node in sympy.preorder_traversal(tree):
        if isinstance(node, sympy.Mul) and any(isinstance(a, sympy.Add) and _has_symbols(a) for a in node.args):
            return True
        if (isinstance(node, sympy.Pow) and isinstance(node.base, sympy.Add) and _has_symbols(node.base)
                and node.exp.is_Integer and node.exp > 1):
            return True
    return False


def _factors(tree: sympy.Basic) -> list[sympy.Basic]:
    if isinstance(tree, sympy.Mul):
        return [f for a in tree.args for f in _factors(a)]
    if isinstance(tree, sympy.Pow) and tree.exp.is_Integer and tree.exp > 0:
        return _factors(tree.base)
    return [tree]


def _reducible(e: sympy.Expr) -> bool:
    if not e.free_symbols or not e.is_polynomial():
        return False
    try:
        _, found = sympy.factor_list(e)
    except (sympy.PolynomialError, NotImplementedError):
        return False
    return len(found) > 1 or any(m > 1 for _, m in found)


def factored_problem(tree: sympy.Basic, reference: sympy.Expr) -> tuple[str, sympy.Expr | None] | None:
    if not _reducible(exact(reference)) and not isinstance(exact(reference), sympy.Mul):
        return None  # nothing to factor
    if isinstance(tree, sympy.Add):
        return "form_factored", None
    for f in _factors(tree):
        if _reducible(exact(f)):
            return "form_not_fully_factored", f
    return None


def _is_number(e: sympy.Basic) -> bool:
    return isinstance(e, (sympy.Integer, sympy.Rational, Float))


def not_simplified(tree: sympy.Basic, source: str, reference: sympy.Expr) -> bool:
    for a, b in _FRAC.findall(source):
        if int(b) != 0 and (math.gcd(int(a), int(b)) > 1 or int(b) == 1):
            return True
    for node in sympy.preorder_traversal(tree):
        if isinstance(node, sympy.Mul):
            numbers = [a for a in node.args if _is_number(a) and a != -1]
            if len(numbers) >= 2:
                return True
            dens = [a.base for a in node.args if isinstance(a, sympy.Pow) and a.exp == -1 and a.base.is_Integer]
            nums = [a for a in node.args if a.is_Integer]
            if any(math.gcd(int(n), int(d)) > 1 or d == 1 for n in nums for d in dens):
                return True
            bases = [exact(a.base if isinstance(a, sympy.Pow) else a) for a in node.args if _has_symbols(a)]
            if len(bases) != len(set(bases)):
                return True
        if isinstance(node, sympy.Add):
            numbers = [a for a in node.args if _is_number(exact(a))]
            terms = [exact(a).as_coeff_Mul()[1] for a in node.args if _has_symbols(a)]
            if len(numbers) >= 2 or len(terms) != len(set(terms)):
                return True
        if isinstance(node, sympy.Pow) and node.base.is_Integer and node.exp.is_Rational and not node.exp.is_Integer:
            if sympy.Pow(node.base, node.exp) != sympy.Pow(node.base, node.exp, evaluate=False):
                return True
    answer_ops = sympy.count_ops(exact(tree))
    ref = exact(reference)
    return answer_ops > min(sympy.count_ops(ref), sympy.count_ops(sympy.simplify(ref)))


def form_problem(form: str | None, tree: sympy.Basic, reference_tree: sympy.Basic, source: str
                 ) -> tuple[str, sympy.Expr | None] | None:
    """The reason an equivalent answer breaks the problem's form rule, with a factor to name, or ``None``."""
    if not form or not isinstance(tree, sympy.Basic):
        return None
    if form == "exact":
        if has_decimal(tree) and not has_decimal(reference_tree) and exact(tree) != exact(reference_tree):
            return "form_exact", None
    elif form == "decimal":
        if decimal_of(tree) is None and exact(tree).free_symbols == set() and not exact(tree).is_Integer:
            return "form_decimal", None
    elif form == "expanded":
        if not_expanded(tree):
            return "form_expanded", None
    elif form == "factored":
        return factored_problem(tree, reference_tree)
    elif form == "simplified":
        if not_simplified(tree, source, reference_tree):
            return "form_simplified", None
    return None
