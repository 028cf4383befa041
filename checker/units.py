"""Units after a number (``5 cm``, ``3 m/s``, ``9.8 m/s^2``, ``5\\,\\text{km}``), read with a whitelist.

A unit is only recognised at the end of an answer and after a number, so ``2x`` stays a product and ``m`` alone
stays a variable. Unit names come from a fixed table mapped onto ``sympy.physics.units``; a unit expression is
names joined by ``*``, ``·``, ``/`` or spaces, each with an optional integer power (``^2``, ``²``).
Quantities compare by converting both to SI base units. Not covered: temperatures in °C/°F (offsets, not
factors), currency, and units inside larger expressions or lists.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy
from sympy.physics import units as u
from sympy.physics.units.systems.si import SI, dimsys_SI

_K = 1000
UNITS: dict[str, sympy.Expr] = {
    # length
    "m": u.meter, "cm": u.centimeter, "mm": u.millimeter, "km": u.kilometer, "um": u.micrometer,
    "µm": u.micrometer, "μm": u.micrometer, "nm": u.nanometer, "dm": u.meter / 10,
    "in": u.inch, "inch": u.inch, "inches": u.inch, "ft": u.foot, "feet": u.foot, "foot": u.foot,
    "yd": u.yard, "mi": u.mile, "mile": u.mile, "miles": u.mile,
    "meter": u.meter, "meters": u.meter, "metre": u.meter, "metres": u.meter,
    "centimeter": u.centimeter, "centimeters": u.centimeter, "centimetre": u.centimeter,
    "centimetres": u.centimeter, "millimeter": u.millimeter, "millimeters": u.millimeter,
    "kilometer": u.kilometer, "kilometers": u.kilometer, "kilometre": u.kilometer, "kilometres": u.kilometer,
    # mass
    "g": u.gram, "kg": u.kilogram, "mg": u.milligram, "gram": u.gram, "grams": u.gram,
    "kilogram": u.kilogram, "kilograms": u.kilogram, "lb": u.pound, "lbs": u.pound,
    # time
    "s": u.second, "sec": u.second, "ms": u.millisecond, "min": u.minute, "h": u.hour, "hr": u.hour,
    "hrs": u.hour, "second": u.second, "seconds": u.second, "minute": u.minute, "minutes": u.minute,
    "hour": u.hour, "hours": u.hour, "day": u.day, "days": u.day,
    # volume and area
    "L": u.liter, "l": u.liter, "mL": u.milliliter, "ml": u.milliliter, "liter": u.liter, "liters": u.liter,
    "litre": u.liter, "litres": u.liter, "ha": u.hectare,
    # mechanics and electricity
    "N": u.newton, "kN": _K * u.newton, "J": u.joule, "kJ": _K * u.joule, "W": u.watt, "kW": _K * u.watt,
    "Pa": u.pascal, "kPa": _K * u.pascal, "V": u.volt, "A": u.ampere, "mA": u.ampere / _K, "Hz": u.hertz,
    "K": u.kelvin, "mol": u.mole, "kWh": _K * u.watt * u.hour,
    # abbreviations of compound units
    "mph": u.mile / u.hour, "kph": u.kilometer / u.hour, "kmh": u.kilometer / u.hour,
}
_NAME = "|".join(sorted((re.escape(k) for k in UNITS), key=len, reverse=True))
_POWER = r"(?:\s*(?:\^|\*\*)\s*\{?\s*\(?-?\d\)?\s*\}?|[²³])?"
_FACTOR = rf"(?:{_NAME})(?![A-Za-z]){_POWER}"
_UNIT_EXPR = re.compile(rf"^\s*{_FACTOR}(?:\s*(?:[*·/]|\s)\s*{_FACTOR})*\s*$")
_TOKEN = re.compile(rf"(?P<op>[*·/])|(?P<name>{_NAME})(?![A-Za-z])(?P<pow>{_POWER})")
_BASE = [u.meter, u.kilogram, u.second, u.ampere, u.kelvin, u.mole, u.candela]
_DIMENSION_NAMES = {
    "length": "a length", "mass": "a mass", "time": "a time", "length**2": "an area", "length**3": "a volume",
    "length/time": "a speed", "length/time**2": "an acceleration", "length*mass/time**2": "a force",
    "length**2*mass/time**2": "an energy", "length**2*mass/time**3": "a power", "1/time": "a frequency",
}


@lru_cache(maxsize=512)
def parse_unit(text: str) -> tuple[sympy.Expr, str] | None:
    """``"m/s^2"`` → ``(meter/second**2, r"\\mathrm{m/s^{2}}")``, or ``None`` if it is not a unit expression."""
    text = text.strip()
    if not text or len(text) > 40 or not _UNIT_EXPR.match(text):
        return None
    value: sympy.Expr = sympy.Integer(1)
    divide = False
    shown: list[str] = []
    for m in _TOKEN.finditer(text):
        if shown and not m.group("op") and shown[-1] not in ("/", r"\cdot "):
            shown.append(r"\,")
        if m.group("op"):
            divide = m.group("op") == "/"
            shown.append("/" if divide else r"\cdot ")
            continue
        power_text = m.group("pow") or ""
        power = 2 if "²" in power_text else 3 if "³" in power_text else int(re.sub(r"[^\d-]", "", power_text) or 1)
        factor = UNITS[m.group("name")] ** power
        value = value / factor if divide else value * factor
        name = m.group("name").replace("µ", r"\mu ").replace("μ", r"\mu ")
        shown.append(name + (f"^{{{power}}}" if power != 1 else ""))
        divide = False  # "m/s^2" divides only the next factor; "kg m/s^2" multiplies again
    return value, r"\mathrm{" + "".join(shown) + "}"


_TAIL_START = re.compile(r"(?<=[\d.)\s}])\s*(?=[A-Za-zµμ])")


_ONE_LETTER = re.compile(rf"^[A-Za-z]{_POWER}$")


def split_unit_tail(text: str) -> tuple[str, sympy.Expr, str] | None:
    """Split ``"9.8 m/s^2"`` into ``("9.8", meter/second**2, latex)`` when the text ends with a unit expression.

    A one-letter unit needs a space before it (``5 m``), so that ``4t^2`` and ``3h`` stay algebra."""
    for m in _TAIL_START.finditer(text):
        head, tail = text[: m.start()].strip(), text[m.end():]
        if not head or not re.search(r"\d", head):
            continue
        if m.start() == m.end() and not text[m.start() - 1].isspace() and _ONE_LETTER.match(tail.strip()):
            continue
        found = parse_unit(tail)
        if found is not None:
            return head, found[0], found[1]
    return None


def to_si(value: sympy.Expr) -> sympy.Expr:
    return u.convert_to(value, _BASE)


def dimension(unit: sympy.Expr) -> dict:
    return dict(dimsys_SI.get_dimensional_dependencies(SI.get_dimensional_expr(unit)))


def dimension_name(unit: sympy.Expr) -> str:
    expr = SI.get_dimensional_expr(unit)
    return _DIMENSION_NAMES.get(str(expr), "a quantity in " + str(expr).replace("**", "^"))
