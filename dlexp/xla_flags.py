"""XLA compiler options dlexp compiles its programs with, and why.

Every program dlexp compiles should pass `compiler_options()`:

    jax.jit(fn).lower(*args).compile(xla_flags.compiler_options())
    jax.jit(fn, compiler_options=xla_flags.compiler_options())

They are per-program options, not XLA_FLAGS: they take effect whenever the
program is compiled, whatever the process did first (XLA reads XLA_FLAGS once,
when the backend starts, and ignores later changes silently).

The one option today: on XLA:CPU (jaxlib 0.10) convolutions are lowered to
YNNPACK by default, and YNNPACK's convolution is slow for the kernel gradient
(the batch is the contraction axis). Measured on the 2-core CPU machine
(benchmarks/README.md): the gradient of a 3x3 32->64 conv over (128, 13, 13)
took 21 ms of CPU time against 8 ms with XLA's own (Eigen) convolution, and
the whole CNN step ~12% less CPU time. Dots and reductions keep YNNPACK: the
list below is the default list of this jaxlib minus convolutions, so MLP and
RNN programs compile to the same HLO as without it (checked in
tests/test_xla_flags.py).
"""
import functools
import os
from typing import Dict, Tuple

import jax
import jax.numpy as jnp

YNN_FUSION_TYPES = 'xla_cpu_experimental_ynn_fusion_type'
# This jaxlib's default YNNPACK fusion types without INDIVIDUAL_CONVOLUTION.
_CPU_OPTIONS: Tuple[Tuple[str, str], ...] = (
    (YNN_FUSION_TYPES,
     'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE'),)


def compiler_options(backend: str = '') -> Dict[str, str]:
  """Per-program XLA options for `backend` (default: jax's default backend).

  Empty off CPU, on a jaxlib that does not know the options, and when the
  user set the same option in XLA_FLAGS (theirs wins).
  """
  backend = backend or jax.default_backend()
  if backend != 'cpu':
    return {}
  user_flags = os.environ.get('XLA_FLAGS', '')
  options = {k: v for k, v in _CPU_OPTIONS if k not in user_flags}
  return dict(options) if options and _accepted(tuple(options.items())) else {}


@functools.lru_cache(maxsize=None)
def _accepted(options: Tuple[Tuple[str, str], ...]) -> bool:
  """Whether this jaxlib compiles with `options` (another version may not
  know an experimental option or one of its values: then none apply)."""
  try:
    jax.jit(jnp.negative).lower(jnp.zeros(2)).compile(dict(options))
  except Exception:  # pylint: disable=broad-except
    # XlaRuntimeError / JaxRuntimeError (names differ across jax versions).
    return False
  return True
