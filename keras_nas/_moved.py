"""Old import paths, kept working for one release (0.2) with a DeprecationWarning.

keras_nas 0.1 had fourteen modules at the top level and one `supernet` package;
0.2 arranges them in layers (see docs/architecture.md). `import
keras_nas.tuner` or `from keras_nas.supernet import DARTSStrategy` still
works: an old module name is the new module itself (same classes, same
state), and the two old packages are read-only views whose names resolve in
their new homes. Delete this module, and its `install()` call in
`keras_nas/__init__.py`, in 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

REMOVED_IN = "0.3"

MODULES = {  # old module: new module
    "keras_nas.layer_kinds": "keras_nas.architecture.kinds",
    "keras_nas.building": "keras_nas.architecture.building",
    "keras_nas.derivation": "keras_nas.architecture.reading",
    "keras_nas.tuner": "keras_nas.search.tuner",
    "keras_nas.project": "keras_nas.search.project",
    "keras_nas.checkpoints": "keras_nas.search.checkpoints",
    "keras_nas.recovery": "keras_nas.search.recovery",
    "keras_nas.distributed": "keras_nas.search.distributed",
    "keras_nas.trial_process": "keras_nas.search.trial_process",
    "keras_nas.morphisms": "keras_nas.search.morphism.moves",
    "keras_nas.distance": "keras_nas.search.morphism.distance",
    "keras_nas.gp": "keras_nas.search.morphism.gp",
    "keras_nas.morphism_tuner": "keras_nas.search.morphism.tuner",
    "keras_nas.oracles.morphism": "keras_nas.search.morphism.oracle",
    "keras_nas.data": "keras_nas.estimators.data",
    "keras_nas.export": "keras_nas.estimators.export",
    "keras_nas.tracing": "keras_nas.backend.tracing",
    "keras_nas.atomic": "keras_nas.utils.atomic",
    "keras_nas.supernet.ops": "keras_nas.architecture.cells.ops",
    "keras_nas.supernet.layers": "keras_nas.architecture.cells.layers",
    "keras_nas.supernet.genotype": "keras_nas.architecture.cells.genotype",
    "keras_nas.supernet.derived": "keras_nas.architecture.cells.derived",
    "keras_nas.supernet.strategy": "keras_nas.oneshot.strategy",
    "keras_nas.supernet.data": "keras_nas.oneshot.data",
    "keras_nas.supernet.collapse": "keras_nas.oneshot.collapse",
    "keras_nas.supernet.plotting": "keras_nas.oneshot.plotting",
    "keras_nas.supernet.mixed": "keras_nas.oneshot.darts.mixed",
    "keras_nas.supernet.cell": "keras_nas.oneshot.darts.cell",
    "keras_nas.supernet.network": "keras_nas.oneshot.darts.network",
    "keras_nas.supernet.bilevel": "keras_nas.oneshot.darts.bilevel",
    "keras_nas.supernet.pcdarts": "keras_nas.oneshot.darts.pcdarts",
    "keras_nas.supernet.gdas": "keras_nas.oneshot.darts.gdas",
    "keras_nas.supernet.enas_spaces": "keras_nas.oneshot.enas.spaces",
    "keras_nas.supernet.enas": "keras_nas.oneshot.enas.child",
    "keras_nas.supernet.controller": "keras_nas.oneshot.enas.controller",
    "keras_nas.supernet.enas_search": "keras_nas.oneshot.enas.search",
}

# Old packages: the packages where their names live now (each name is in one of these `__all__`s).
PACKAGES = {
    "keras_nas.oracles": ("keras_nas.search.oracles",),
    "keras_nas.supernet": (
        "keras_nas.oneshot",
        "keras_nas.oneshot.darts",
        "keras_nas.oneshot.enas",
        "keras_nas.architecture.cells",
    ),
}


def _warn(old: str, new: str) -> None:
    # Point the warning at the user's line: count frames as `warnings` does (it skips the import
    # machinery's) up to the first one outside this module.
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None:
        frame = frame.f_back
        filename = frame.f_code.co_filename
        if "importlib" in filename and "_bootstrap" in filename:
            continue
        level += 1
        if filename != __file__:
            break
    warnings.warn(
        f"{old} has moved to {new}; the old path works until keras_nas {REMOVED_IN}. Import from {new}.",
        DeprecationWarning,
        stacklevel=level,
    )


class _OldPackage(types.ModuleType):
    """A deprecated package: each name is looked up where it lives now."""

    def __init__(self, name: str, homes: tuple[str, ...]) -> None:
        super().__init__(name, f"Deprecated: the names of {name} now live in {', '.join(homes)}.")
        self.__path__: list[str] = []  # a package, so that its old submodules can be imported
        self._homes = homes

    def __getattr__(self, name: str) -> Any:
        modules = [importlib.import_module(home) for home in self.__dict__["_homes"]]
        if name == "__all__":
            return sorted({public for module in modules for public in module.__all__})
        for module in modules:
            if name in module.__all__:
                _warn(f"{self.__name__}.{name}", f"{module.__name__}.{name}")
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name in PACKAGES:
            return _OldPackage(spec.name, PACKAGES[spec.name])
        new = MODULES[spec.name]
        _warn(spec.name, new)
        module = importlib.import_module(new)
        # The import system sets __spec__ on what we return; keep the module's own.
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        state = module.__spec__.loader_state if module.__spec__ is not None else None
        if state is not None:
            module.__spec__ = state


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname in MODULES or fullname in PACKAGES:
            return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=fullname in PACKAGES)
        return None


def install() -> None:
    """Makes the old paths importable (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
