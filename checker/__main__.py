"""``python -m checker ANSWER REFERENCE [--form F] [--tolerance T] [--units-required]``: print the verdict as JSON.

Also ``--extract`` to print the final answer found in ANSWER (a tutor's reply) instead. Exit status 0 whether
or not the answer is equivalent; 2 for bad arguments. Not covered: anything beyond one check.
"""

from __future__ import annotations

import argparse
import json
import sys

from checker import FORMS, check_answer, extract_final_answer
from engine.errors import SettingsError


def _tolerance(text: str) -> float | str:
    return text if text.strip().endswith("%") else float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checker", description="Check an answer against a reference.")
    parser.add_argument("answer", help="the student's answer (plain text or LaTeX)")
    parser.add_argument("reference", nargs="?", default=None, help="the reference answer")
    parser.add_argument("--form", choices=FORMS, default=None, help="required form of the answer")
    parser.add_argument("--tolerance", type=_tolerance, default=None,
                        help="accept numbers within this absolute tolerance (0.01) or relative one ('1%%')")
    parser.add_argument("--units-required", action="store_true", help="a missing unit makes the answer wrong")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per check (default 2)")
    parser.add_argument("--extract", action="store_true", help="print the final answer found in ANSWER")
    args = parser.parse_args(argv)
    if args.extract:
        print(json.dumps({"final_answer": extract_final_answer(args.answer)}, ensure_ascii=False))
        return 0
    if args.reference is None:
        parser.error("REFERENCE is required (or use --extract)")
    rules = {k: v for k, v in (("form", args.form), ("tolerance", args.tolerance)) if v is not None}
    if args.units_required:
        rules["units_required"] = True
    try:
        verdict = check_answer(args.answer, args.reference, timeout=args.timeout, **rules)
    except SettingsError as err:
        print(str(err), file=sys.stderr)
        return 2
    print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
