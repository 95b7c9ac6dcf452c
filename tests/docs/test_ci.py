"""`.ci/run` runs the README's test line verbatim, in a fresh virtual environment."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_line_verbatim_in_a_new_venv():
    readme = (ROOT / "README.md").read_text()
    (line,) = re.findall(r"^pip install -e \"\.\[test\]\".*$", readme, flags=re.M)
    script = (ROOT / ".ci" / "run").read_text()
    assert line in script.splitlines()
    before = script[: script.index(line)]
    assert "python3 -m venv" in before and "--system-site-packages" not in script
    assert "/venv/bin/activate" in before and "rm -rf" in before
