"""Which of the pure core's modules run compiled (mypyc, ``PERSONALIZER_COMPILE=1``).

setup.py lists the modules it compiles; this reads what the interpreter actually loaded,
so a worker's log and a bench report say which build ran.

>>> import models.engine.engine
>>> isinstance(compiled_modules(), list)
True
"""

from __future__ import annotations

import sys
from importlib.machinery import EXTENSION_SUFFIXES

__all__ = ["compiled_modules", "describe_build"]


def compiled_modules() -> list[str]:
    """The loaded ``models.*`` modules that are extension modules, sorted."""
    suffixes = tuple(EXTENSION_SUFFIXES)
    return sorted(
        name for name, module in list(sys.modules.items())
        if name.startswith("models.") and str(getattr(module, "__file__", "") or "").endswith(suffixes)
    )


def describe_build() -> str:
    """One line for logs: ``compiled (20 modules)`` or ``interpreted``."""
    import models.engine.engine  # noqa: F401  (the core's modules, so that they count)

    n = len(compiled_modules())
    return f"compiled ({n} modules)" if n else "interpreted"
