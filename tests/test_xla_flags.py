"""dlexp.xla_flags: the per-program compiler options on XLA:CPU."""
import re

import jax
import jax.numpy as jnp
import pytest
from jax import lax

from dlexp import xla_flags

pytestmark = pytest.mark.skipif(jax.default_backend() != 'cpu',
                                reason='options for XLA:CPU only')


def _library_fusions(fn, *args, options=None) -> int:
  text = jax.jit(fn).lower(*args).compile(options or {}).as_text()
  return len(re.findall(r'"kind":"__ynn_fusion"', text))


def test_convolutions_leave_ynnpack_dots_keep_it():
  options = xla_flags.compiler_options()
  assert options == {xla_flags.YNN_FUSION_TYPES: (
      'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE')}
  x, w = jnp.ones((8, 13, 13, 32)), jnp.ones((3, 3, 32, 64))
  conv_grad = jax.grad(lambda w: jnp.sum(lax.conv_general_dilated(
      x, w, (1, 1), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))))
  assert _library_fusions(conv_grad, w) >= 1  # this jaxlib's default
  assert _library_fusions(conv_grad, w, options=options) == 0
  m = jnp.ones((64, 64))
  dense = lambda m: jnp.sum(jax.nn.relu(m @ m) @ m, axis=0)
  assert (_library_fusions(dense, m, options=options)
          == _library_fusions(dense, m) >= 1)


def test_user_xla_flags_win_and_unknown_options_are_dropped(monkeypatch):
  monkeypatch.setenv('XLA_FLAGS', f'--{xla_flags.YNN_FUSION_TYPES}=')
  assert xla_flags.compiler_options() == {}
  monkeypatch.delenv('XLA_FLAGS')
  assert xla_flags.compiler_options('gpu') == {}
  assert not xla_flags._accepted((('xla_cpu_no_such_option', '1'),))
