"""LaTeX for what the checker understood ("We read your answer as …"), from the trees as typed.

Expressions print in the order typed (``order="none"``), decimals with the digits typed, ``25\\%`` and
``30^{\\circ}`` as written. Not covered: feedback sentences (``checker.feedback``).
"""

from __future__ import annotations

from typing import Any

import sympy


def tex(e: Any) -> str:
    if e is None:
        return ""
    if isinstance(e, sympy.Set):
        return sympy.latex(e).replace(r"\left[", "[").replace(r"\right]", "]").replace(r"\left(", "(") \
            .replace(r"\right)", ")")
    text = sympy.latex(e, order="none") if isinstance(e, sympy.Basic) else str(e)
    return text.replace(r"+ \pm", r"\pm").replace(r"- \pm", r"\mp")


def show(value: Any) -> str:
    from checker.values import Equation, Expr, Labelled, Matrix, Pair, Point, Region, Solutions

    if isinstance(value, Expr):
        return tex(value.tree) + (r"\ " + value.unit_latex if value.unit is not None else "")
    if isinstance(value, Solutions):
        if not value.values:
            return r"\varnothing \text{ (no solution)}"
        if value.var is None:
            shown = ", ".join(tex(v) for v in value.values)
            return shown if len(value.values) == 1 else r"\{" + shown + r"\}"
        return r" \text{ or } ".join(f"{tex(value.var)} = {tex(v)}" for v in value.values)
    if isinstance(value, Region):
        shown = tex(value.set)
        return f"{tex(value.var)} \\in {shown}" if value.var is not None else shown
    if isinstance(value, Equation):
        return f"{tex(value.lhs)} = {tex(value.rhs)}"
    if isinstance(value, Pair):
        return f"({tex(value.a)}, {tex(value.b)})"
    if isinstance(value, Point):
        if value.vars:
            return ", ".join(f"{tex(v)} = {tex(x)}" for v, x in zip(value.vars, value.items))
        return "(" + ", ".join(tex(x) for x in value.items) + ")"
    if isinstance(value, Matrix):
        rows = r" \\ ".join(" & ".join(tex(x) for x in row) for row in value.rows)
        return r"\begin{pmatrix}" + rows + r"\end{pmatrix}"
    if isinstance(value, Labelled):
        return f"{value.latex} = {show(value.inner)}"
    return tex(value)
