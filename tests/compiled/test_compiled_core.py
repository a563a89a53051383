"""The compiled build (``PERSONALIZER_COMPILE=1``, setup.py) is the same program.

What the Dockerfile ships is the pure core's hot modules compiled with mypyc; the rest of
the suite runs them as plain Python (an editable install). This builds the wheel once
(gcc, ~30 s), installs it into a temporary folder and, in child processes whose imports
come from there:

* the hot modules are extension modules;
* replays of one generated log (malformed lines included), with every feature and with the
  defaults, write byte-identical decisions, segment changes, dead letters, profiles and
  evaluation report to the same replays run here, interpreted;
* the core's unit tests (contracts: pickling, state round trips, determinism) pass
  against the compiled modules (mypyc checks declared types at run time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from models.compiled import compiled_modules
from models.config import EngineConfig
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.generator import generate
from streams.replay import ReplayOptions, iter_jsonl_records, replay

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "models", "schemas", "streams")
#: The two configurations the bench measures.
CONFIGS = {
    "all": EngineConfig(policy="hybrid", behavioural_segments=True),
    "defaults": EngineConfig(),
}
COMPARED = ("decisions.jsonl", "segment_changes.jsonl", "dead_letters.jsonl", "profiles.jsonl",
            "report.json")
UNIT_TESTS = ("tests/unit/models", "tests/unit/learning", "tests/unit/recommenders", "tests/unit/offers",
              "tests/unit/segments", "tests/unit/test_recommender_speed_equivalence.py")

CHILD_REPLAY = """
import json, sys
from pathlib import Path
import msgspec
from models.config import EngineConfig
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.replay import ReplayOptions, iter_jsonl_records, replay
from models.compiled import compiled_modules
import models.engine.engine
log, out, config = Path(sys.argv[1]), Path(sys.argv[2]), msgspec.json.decode(sys.argv[3], type=EngineConfig)
replay(iter_jsonl_records(log), load_rules(DEFAULT_RULES_PATH), out,
       ReplayOptions(evaluate=True, engine_config=config))
print(json.dumps({"engine": models.engine.engine.__file__, "compiled": compiled_modules()}))
"""


@pytest.fixture(scope="module")
def compiled_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built with ``PERSONALIZER_COMPILE=1`` from a copy of the sources (no build
    folder left in the work tree), installed into a folder of its own."""
    assert shutil.which("gcc"), "the compiled build needs gcc (on every machine of this project's kind)"
    base = tmp_path_factory.mktemp("compiled")
    src = base / "src"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    env = {**os.environ, "PERSONALIZER_COMPILE": "1"}
    wheels = base / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
                            str(src)], env=env, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = wheels.glob("personalizer-*.whl")
    site = base / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                              str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    return site


def _child_env(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "PYTHONHASHSEED": "0"}


def test_this_process_runs_the_core_interpreted() -> None:
    import models.engine.engine  # noqa: F401

    assert compiled_modules() == [], "the comparison below needs an interpreted core here"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_compiled_replay_writes_the_same_bytes(compiled_site: Path, tmp_path: Path, name: str) -> None:
    log = tmp_path / "events.jsonl"
    generate(users=1_500, events=15_000, seed=11, out=log, malformed_fraction=0.01)
    config = CONFIGS[name]
    here = tmp_path / "interpreted"
    replay(iter_jsonl_records(log), load_rules(DEFAULT_RULES_PATH), here,
           ReplayOptions(evaluate=True, engine_config=config))
    there = tmp_path / "compiled"
    args = [str(log), str(there), msgspec.json.encode(config).decode()]
    child = subprocess.run([sys.executable, "-c", CHILD_REPLAY, *args],
                           cwd=tmp_path, env=_child_env(compiled_site), capture_output=True, text=True,
                           timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    assert loaded["engine"].startswith(str(compiled_site)) and loaded["engine"].endswith(".so"), loaded
    assert {"models.engine.engine", "models.recommenders.hybrid", "models.profiles.update"} <= set(
        loaded["compiled"])
    decisions = (here / "decisions.jsonl").read_bytes()
    assert decisions.count(b"\n") > 1_000 and (here / "dead_letters.jsonl").stat().st_size > 0
    for f in COMPARED:
        assert (there / f).read_bytes() == (here / f).read_bytes(), f"{f} differs between the builds"
    assert json.loads((there / "run.json").read_bytes())["core"].startswith("compiled (")
    assert json.loads((here / "run.json").read_bytes())["core"] == "interpreted"


def test_core_unit_tests_pass_against_the_compiled_modules(compiled_site: Path) -> None:
    for name in ("tests", "conftest.py", "pyproject.toml"):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, compiled_site / name, ignore=shutil.ignore_patterns("__pycache__"),
                            dirs_exist_ok=True)
        else:
            shutil.copy2(path, compiled_site / name)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
                          "not integration and not slow", *UNIT_TESTS],
                         cwd=compiled_site, env=_child_env(compiled_site), capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "error" not in run.stdout.splitlines()[-1]
