"""One small registry class, used for every plug-in kind (architectures, data sources, ...).

Registering a name twice raises; looking up an unknown name raises with a guess and the
full list. Registries are filled only by explicit imports of the plug-in modules.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from tunedepth.errors import ConfigError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """A name -> entry mapping that refuses duplicates and explains unknown names.

    Args:
        kind: what the entries are, used in messages, e.g. "architecture".

    Example:
        >>> colours: Registry[int] = Registry("colour")
        >>> colours.register("red", 1)
        >>> colours.get("red")
        1
        >>> colours.get("rad")
        Traceback (most recent call last):
        ...
        tunedepth.errors.ConfigError: Unknown colour 'rad'. Did you mean 'red'? Available: red.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> None:
        """Add ``entry`` under ``name``.

        Raises:
            KeyError: if ``name`` is already registered (a programming error, not user input).
        """
        if name in self._entries:
            raise KeyError(f"{self.kind} {name!r} is already registered; names must be unique.")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """Return the entry registered under ``name``.

        Raises:
            ConfigError: if ``name`` is unknown; the message has a guess and the full list.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The one-line message for an unknown ``name``."""
        names = sorted(self._entries)
        guess = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(names)}."

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
