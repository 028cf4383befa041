"""``python -m checker ANSWER REFERENCE``: JSON verdicts, rule flags, extraction, bad flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checker", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_prints_the_verdict_as_json():
    out = run("0.866", r"\frac{\sqrt3}{2}")
    assert out.returncode == 0, out.stderr
    verdict = json.loads(out.stdout)
    assert verdict["equivalent"] is True and verdict["reason"] == "correct"
    assert verdict["parsed_answer"] == "0.866" and verdict["parsed_reference"] == r"\frac{\sqrt{3}}{2}"
    assert verdict["timed_out"] is False and "Correct" in verdict["feedback"]


def test_rule_flags():
    assert json.loads(run("x^2-1", "x^2-1", "--form", "factored").stdout)["reason"] == "form_factored"
    assert json.loads(run("3.1", "pi", "--tolerance", "0.05").stdout)["equivalent"] is True
    assert json.loads(run("101", "100", "--tolerance", "2%").stdout)["equivalent"] is True
    assert json.loads(run("5", "5 cm", "--units-required").stdout)["reason"] == "units_missing"


def test_extract_flag():
    out = run("--extract", r"so the answer is \boxed{\frac{1}{2}}")
    assert json.loads(out.stdout) == {"final_answer": r"\frac{1}{2}"}


def test_bad_arguments_exit_2():
    assert run("1", "1", "--form", "pretty").returncode == 2
    assert run("1").returncode == 2
