"""`Registry`: the one pattern behind every extension point's names (layer kinds, spaces, oracles, strategies).

Each extension point keeps one `Registry` and a `register_*` function in its
own package; the estimators' error messages, the CLI's choices and the
contract tests (which parametrise over `registry.names()`) all read it, so an
entry is usable, listed and tested the moment it is registered.

Example:

>>> colours = Registry("colour", hint="or pass an RGB tuple")
>>> colours.register("red", (255, 0, 0))
(255, 0, 0)
>>> colours.get("red"), "red" in colours, colours.names()
((255, 0, 0), True, ['red'])
>>> colours.get("blue")
Traceback (most recent call last):
...
ValueError: Unknown colour 'blue'; choose one of ['red'] or pass an RGB tuple.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name.

    Args:
        what: What an entry is, for messages ("oracle", "layer kind").
        hint: The end of the "Unknown ..." message: what else the user may pass, or how to add an entry.
        elsewhere: Names whose entries register themselves when their module is imported, loaded on first use
            (so a cheap import does not pull in a heavy one).
    """

    def __init__(self, what: str, hint: str = "", elsewhere: Mapping[str, str] | None = None) -> None:
        self.what, self.hint = what, hint
        self._entries: dict[str, T] = {}
        self._elsewhere = dict(elsewhere or {})

    def register(self, name: str, entry: T) -> T:
        """Adds `entry` under `name` (replacing an earlier one of that name) and returns it."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.what} needs a non-empty string name; received {name!r}.")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Removes `name`; a KeyError if it is not registered."""
        del self._entries[name]

    def find(self, name: str) -> T | None:
        """The entry named `name`, or None."""
        if name not in self._entries and name in self._elsewhere:
            importlib.import_module(self._elsewhere[name])
        return self._entries.get(name)

    def get(self, name: str) -> T:
        """The entry named `name`, or a ValueError that names every registered entry."""
        entry = self.find(name) if isinstance(name, str) else None
        if entry is None:
            hint = f" {self.hint}" if self.hint else ""
            raise ValueError(f"Unknown {self.what} {name!r}; choose one of {self.names()}{hint}.")
        return entry

    def names(self) -> list[str]:
        """Every registered name, sorted (entries defined elsewhere included)."""
        self._load_elsewhere()
        return sorted(self._entries)

    def entries(self) -> list[T]:
        """Every entry, in the order registered."""
        self._load_elsewhere()
        return list(self._entries.values())

    def _load_elsewhere(self) -> None:
        for module in sorted(set(self._elsewhere.values())):
            importlib.import_module(module)

    def __getitem__(self, name: str) -> T:
        entry = self.find(name)
        if entry is None:
            raise KeyError(name)
        return entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {self.names()})"
