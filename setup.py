"""Build hook: the pure core's hot modules compiled to C with mypyc, on request.

``PERSONALIZER_COMPILE=1 pip install .`` (what the Dockerfile does) compiles the modules
in :data:`COMPILED` with mypyc (gcc and the Python headers needed); anything else, and
every editable install (``pip install -e``: what ``make test`` does), installs them as
plain Python. Same code, same decisions byte for byte (``tests/compiled``), 1.3-1.5x the
events/s per core (README, "Compiled core"). Everything else is in pyproject.toml.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from setuptools import setup

#: The modules of the per-event path (engine, profiles, rules, policies, recommenders,
#: behavioural segments): a quarter to a third less CPU per event compiled. Rules for a module
#: here: no msgspec Struct in it (mypyc turns its annotations into classes that msgspec
#: can't read: the checkpointed states live in ``*/state.py``); a class that is pickled has
#: an ``__init__`` callable without arguments (mypyc unpickles by calling it, then sets the
#: attributes; ``@mypyc_attr(serializable=True)`` left ``__init__`` uncalled on plain
#: construction in mypyc 2.4, and ``native_class=False`` costs the attribute speed).
#: The pickled frozen dataclass of a rule definition lives in models/segments/definition.py,
#: outside the list.
COMPILED = [
    "models/engine/engine.py",
    "models/engine/ids.py",
    "models/engine/schedule.py",
    "models/profiles/update.py",
    "models/profiles/view.py",
    "models/segments/timing.py",
    "models/segments/rule_set.py",
    "models/segments/dependencies.py",
    "models/segments/explain.py",
    "models/policies/segment_popularity.py",
    "models/policies/hybrid.py",
    "models/recommenders/popularity.py",
    "models/recommenders/hybrid.py",
    "models/recommenders/ranker.py",
    "models/recommenders/covisit.py",
    "models/recommenders/mixture.py",
    "models/recommenders/decay.py",
    "models/recommenders/reasons.py",
    "models/behaviour/vector.py",
    "models/behaviour/segmenter.py",
]

#: mypyc type-checks what it compiles. River (and numpy/pandas under it) is read as
#: untyped: checking it fully takes mypyc ~6 minutes and gives our code nothing.
MYPY_CONFIG = """\
[mypy]
python_version = 3.11
ignore_missing_imports = True
check_untyped_defs = True

[mypy-river.*,numpy.*,pandas.*,scipy.*]
follow_imports = skip
"""


def wanted() -> bool:
    if os.environ.get("PERSONALIZER_COMPILE", "").strip().lower() not in ("1", "true", "yes"):
        return False
    if {"editable_wheel", "develop"} & set(sys.argv):  # .so files beside the sources would hide every edit
        print("PERSONALIZER_COMPILE ignored for an editable install: the core stays plain Python")
        return False
    # only when extensions are built (not for the metadata and build-requirement queries)
    return bool({"bdist_wheel", "build_ext", "build", "install"} & set(sys.argv))


def ext_modules() -> list[object]:
    if not wanted():
        return []
    from mypyc.build import mypycify

    config = Path(tempfile.mkdtemp(prefix="personalizer-mypyc-")) / "mypy.ini"
    config.write_text(MYPY_CONFIG)
    return list(mypycify(["--config-file", str(config), *COMPILED], opt_level="3"))


setup(ext_modules=ext_modules())
