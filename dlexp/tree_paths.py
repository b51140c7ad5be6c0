"""Parameter trees by path: names, patterns, labels, masks, flattening.

One place for what the optimizer, the regularizers, the train step, the
checkpoints and transfer all need: a leaf's path as names ('dense1',
'kernel'), regex patterns matched against a path or any layer that contains
it (init.skip, train.freeze, train.lr_scale_params), optax labels and masks,
and a tree as nested dicts keyed by those names (what checkpoints save).
It imports nothing from dlexp but errors, so any floor may use it.

Patterns are Python regular expressions matched with `re.fullmatch` against
the '/'-joined path of a parameter ('dense1/kernel') or of a layer holding it
('dense1'): 'logits' names the whole output layer, '.*/bias' every bias.
"""
import re
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import jax

from dlexp.errors import ConfigError


def key_name(k) -> str:
  """The name of one path entry: a dict key, a dataclass field or an index."""
  for attr in ('key', 'name', 'idx'):
    if hasattr(k, attr):
      return str(getattr(k, attr))
  return str(k)


def names(path) -> Tuple[str, ...]:
  """A jax key path as names: ('dense1', 'kernel')."""
  return tuple(key_name(k) for k in path)


def compile_patterns(value, path: str) -> Tuple[re.Pattern, ...]:
  """The config field `path`'s tuple of regexes, compiled; one-line errors."""
  if isinstance(value, str) or not all(isinstance(p, str) for p in value):
    raise ConfigError(f'{path}={value!r} must be a tuple of regular '
                      "expressions, e.g. ('logits',)")
  compiled = []
  for p in value:
    try:
      compiled.append(re.compile(p))
    except re.error as e:
      raise ConfigError(f'{path}: {p!r} is not a regular expression ({e})'
                        ) from None
  return tuple(compiled)


def matches(patterns: Sequence[re.Pattern], path_names: Sequence[str]) -> bool:
  """Whether a pattern fully matches the path or one of its layers."""
  prefixes = ['/'.join(path_names[:i]) for i in range(1, len(path_names) + 1)]
  return any(p.fullmatch(s) for p in patterns for s in prefixes)


def frozen_predicate(patterns: Sequence[str], key: str = 'train.freeze'
                     ) -> Optional[Callable[[Sequence[str]], bool]]:
  """names -> matched by `patterns`, or None when none are given."""
  compiled = compile_patterns(tuple(patterns), key)
  if not compiled:
    return None
  return lambda path_names: matches(compiled, path_names)


def labels(params, patterns: Sequence[str]):
  """'frozen' / 'train' per leaf of `params` (optax.multi_transform labels)."""
  frozen = frozen_predicate(patterns)
  return jax.tree_util.tree_map_with_path(
      lambda p, _: 'frozen' if frozen(names(p)) else 'train', params)


def keep_frozen(frozen: Optional[Callable], old, new):
  """`new` with the frozen leaves of `old` (the same object: bit for bit)."""
  if frozen is None:
    return new
  return jax.tree_util.tree_map_with_path(
      lambda p, o, n: o if frozen(names(p)) else n, old, new)


def is_kernel(path) -> bool:
  return bool(path) and key_name(path[-1]) == 'kernel'


def kernel_mask(params) -> Any:
  """Pytree of Python bools: True where the leaf is a kernel."""
  return jax.tree_util.tree_map_with_path(lambda p, _: is_kernel(p), params)


def shapes(tree) -> Dict[str, Tuple[int, ...]]:
  """{'dense1/kernel': shape} of a params or batch_stats tree."""
  flat, _ = jax.tree_util.tree_flatten_with_path(tree)
  return {'/'.join(names(p)): tuple(x.shape) for p, x in flat}


def nested(tree) -> Dict[str, Any]:
  """The tree as nested dicts keyed by field / key / index names, the form
  Orbax saves under those names (containers without leaves drop out)."""
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    *parents, last = names(path)
    node = out
    for name in parents:
      node = node.setdefault(name, {})
    node[last] = leaf
  return out


def flat(tree, prefix: Tuple[str, ...] = ()) -> Dict[Tuple[str, ...], Any]:
  """{path: leaf} of a `nested` tree, in order."""
  if not isinstance(tree, dict):
    return {prefix: tree}
  out = {}
  for k, v in tree.items():
    out.update(flat(v, prefix + (str(k),)))
  return out
