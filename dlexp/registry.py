"""Name -> object registries: one place where every selectable piece is listed."""
import difflib
from typing import Any, Callable, Dict, Iterator, Optional

from dlexp.errors import ConfigError


# Abbreviations people type for config fields: difflib cannot see that
# 'lr' means learning_rate (it suggested 'optimizer.b2').
ALIASES = {'lr': 'learning_rate', 'wd': 'weight_decay', 'bs': 'batch_size',
           'num_epochs': 'epochs', 'n_epochs': 'epochs', 'seeds': 'num_seeds'}


def closest(name: str, choices) -> Optional[str]:
  """The closest choice to `name`, or None if nothing is near: the same name
  in another case, then a known abbreviation of a dotted path's last part
  (in the same section first), then the closest spelling."""
  name, choices = str(name), list(choices)
  folded = {str(c).lower(): c for c in choices}
  if name.lower() in folded:
    return folded[name.lower()]
  *head, leaf = name.split('.')
  alias = ALIASES.get(leaf.lower())
  if alias:
    same_section = '.'.join(head + [alias])
    if same_section in choices:
      return same_section
    anywhere = [c for c in choices if str(c).split('.')[-1] == alias]
    if anywhere:
      return sorted(anywhere, key=lambda c: (str(c).count('.'), str(c)))[0]
  match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
  return match[0] if match else None


def did_you_mean(name: str, choices) -> str:
  """" (did you mean 'x'?)" with the closest choice, or '' if none is near."""
  hint = closest(name, choices)
  return f' (did you mean {hint!r}?)' if hint else ''


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
      raise ConfigError(f'unknown {self.kind} {name!r}'
                        f'{did_you_mean(name, self._items)}; '
                        f'allowed: {", ".join(sorted(self._items))}')
    return self._items[name]

  def __contains__(self, name) -> bool:
    return name in self._items

  def __iter__(self) -> Iterator[str]:
    return iter(sorted(self._items))

  def names(self):
    return sorted(self._items)
