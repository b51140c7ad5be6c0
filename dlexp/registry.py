"""Name -> object registries: one place where every selectable piece is listed."""
import difflib
from typing import Any, Callable, Dict, Iterator, Optional

from dlexp.errors import ConfigError


def closest(name: str, choices) -> Optional[str]:
  """The closest choice to `name`, or None if nothing is near."""
  match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
  return match[0] if match else None


class Registry:
  """Maps names to objects; unknown names give a one-line error with a hint."""

  def __init__(self, kind: str):
    self.kind = kind
    self._items: Dict[str, Any] = {}

  def register(self, name: str, obj: Any = None) -> Callable:
    def add(o):
      if name in self._items:
        raise ValueError(f'{self.kind} {name!r} registered twice')
      self._items[name] = o
      return o
    return add if obj is None else add(obj)

  def get(self, name: str) -> Any:
    if name not in self._items:
      hint = closest(name, self._items)
      hint = f' (did you mean {hint!r}?)' if hint else ''
      raise ConfigError(f'unknown {self.kind} {name!r}{hint}; '
                        f'allowed: {", ".join(sorted(self._items))}')
    return self._items[name]

  def __contains__(self, name) -> bool:
    return name in self._items

  def __iter__(self) -> Iterator[str]:
    return iter(sorted(self._items))

  def names(self):
    return sorted(self._items)
