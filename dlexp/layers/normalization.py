"""Normalization layers: a uniform `Norm` wrapper and AlexNet's LRN."""
import flax.linen as nn
import jax
import jax.numpy as jnp

from dlexp.errors import ConfigError

NORMS = ('none', 'batch')
KINDS = ('dense', 'conv')


class Norm(nn.Module):
  """Identity ('none') or BatchNorm ('batch') behind one `(x, train)` call.

  BatchNorm normalizes each channel (last axis) over all other axes, so dense
  (N, C) and conv (N, H, W, C) inputs share the code. Running averages follow
  ra = momentum * ra + (1 - momentum) * batch_stat, in 'batch_stats'.
  """
  norm: str = 'none'
  momentum: float = 0.9
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.norm == 'none':
      return x
    if self.norm == 'batch':
      return nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                          epsilon=self.epsilon)(x)
    raise ConfigError(f'unknown norm {self.norm!r}; allowed: '
                      f'{", ".join(NORMS)}')


def make_norm(model_cfg, kind: str) -> Norm:
  """The Norm of model_cfg.norm for a 'dense' or 'conv' layer."""
  if kind not in KINDS:
    raise ConfigError(f'norm kind {kind!r} not allowed; allowed: '
                      f'{", ".join(KINDS)}')
  norm = model_cfg.norm
  if norm not in NORMS:
    raise ConfigError(f'model.norm={norm!r} not allowed; allowed: '
                      f'{", ".join(NORMS)}')
  momentum, epsilon = float(model_cfg.bn_momentum), float(model_cfg.bn_epsilon)
  if not 0 <= momentum < 1:
    raise ConfigError(f'model.bn_momentum={momentum} not allowed; need '
                      '0 <= momentum < 1')
  if not epsilon > 0:
    raise ConfigError(f'model.bn_epsilon={epsilon} not allowed; need > 0')
  return Norm(norm=norm, momentum=momentum, epsilon=epsilon)


class LocalResponseNorm(nn.Module):
  """Local response normalization across channels (Krizhevsky et al. 2012).

  b_i = a_i / (k + alpha * sum_{|j-i| <= size//2} a_j**2) ** beta, with the sum
  clipped at the first and last channel. alpha multiplies the plain sum (the
  paper's form, not PyTorch's alpha / size).
  """
  size: int = 5
  k: float = 2.0
  alpha: float = 1e-4
  beta: float = 0.75

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.size < 1 or self.size % 2 == 0:
      raise ConfigError(f'LRN size={self.size} not allowed; need an odd '
                        'int >= 1')
    radius = self.size // 2
    # Zero padding at the edges is what clips the window to existing channels.
    window = (1,) * (x.ndim - 1) + (self.size,)
    padding = ((0, 0),) * (x.ndim - 1) + ((radius, radius),)
    sq_sum = jax.lax.reduce_window(jnp.square(x), 0.0, jax.lax.add, window,
                                   (1,) * x.ndim, padding)
    return x / (self.k + self.alpha * sq_sum) ** self.beta
