"""dlexp: ablation experiments on how deep networks train, and the Keras
workflow as a Python API (`dlexp.fit`, `dlexp.load`; see dlexp/api.py).

The API is imported on first use, so `import dlexp` stays light (no jax).
"""

import importlib

__all__ = ('Trained', 'fit', 'load')
# Subpackages reachable as attributes without importing them first
# (dlexp.data.from_arrays, dlexp.config.default_config).
_LAZY_MODULES = ('config', 'data')


def __getattr__(name):
  if name in __all__:
    return getattr(importlib.import_module('dlexp.api'), name)
  if name in _LAZY_MODULES:
    return importlib.import_module(f'dlexp.{name}')
  raise AttributeError(f'module dlexp has no attribute {name!r}')
