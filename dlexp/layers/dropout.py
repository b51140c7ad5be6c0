"""Dropout variants, DropConnect and Monte-Carlo dropout prediction.

`rate` is a traced scalar (one value per vmap lane of a grid), so nothing here
branches on its value in Python; rate 0 returns the input exactly by
arithmetic (keep probability 1 keeps every unit, scale 1/(1-0) is 1).
Randomness comes from the 'dropout' rng stream.
"""
from typing import Callable, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from dlexp.errors import ConfigError
from dlexp.layers.activations import SELU_ALPHA, SELU_SCALE
from dlexp.registry import Registry

# name -> fn(module, x, rate, train) -> y.
DROPOUTS = Registry('dropout variant')

# The variants that, in a recurrent layer, also mask the state h fed back
# into the cell (dlexp/models/rnn.py), and how often they draw that mask:
# once per 'sequence', or a fresh one at every 'step'. Both mask the same
# connections (Gal & Ghahramani 2016's); they differ only in tying the mask.
STATE_DROPOUT = {'variational': 'sequence', 'per_step_recurrent': 'step'}

# Value a dropped unit takes in alpha dropout: SELU's negative saturation.
ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA


def _keep_mask(module, rate, shape):
  return jax.random.bernoulli(module.make_rng('dropout'), 1.0 - rate, shape)


def _inverse_keep(rate):
  # 1/(1-rate), but 0 at rate 1 so that 0 * inf never makes nan values or grads.
  keep = 1.0 - rate
  return jnp.where(keep > 0, 1.0 / jnp.where(keep > 0, keep, 1.0), 0.0)


def _inverted(x, keep, rate):
  return jnp.where(keep, x * _inverse_keep(rate).astype(x.dtype), 0)


def _channel_shape(x):
  # One mask entry per (example, channel), broadcast over all middle axes:
  # (N, 1, 1, C) for NHWC maps, (N, 1, C) for NLC sequences.
  if x.ndim < 2:
    raise ConfigError(f'input of shape {x.shape} not allowed for channel-wise '
                      'dropout; need (N, ..., C)')
  return (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)


@DROPOUTS.register('none')
def _none(module, x, rate, train):
  return x


# DropConnect drops weights inside `Dense(dropconnect=True)`, not activations.
DROPOUTS.register('dropconnect', _none)


@DROPOUTS.register('standard')
def _standard(module, x, rate, train):
  """Inverted dropout: scale kept units by 1/(1-rate) in training."""
  if not train:
    return x
  return _inverted(x, _keep_mask(module, rate, x.shape), rate)


@DROPOUTS.register('classic')
def _classic(module, x, rate, train):
  """Original dropout (Srivastava et al. 2014): scale by 1-rate at test time."""
  if not train:
    return x * (1.0 - rate).astype(x.dtype)
  return jnp.where(_keep_mask(module, rate, x.shape), x, 0)


@DROPOUTS.register('spatial')
def _spatial(module, x, rate, train):
  """Drops whole channels of conv maps (Tompson et al. 2015), inverted."""
  if not train:
    return x
  return _inverted(x, _keep_mask(module, rate, _channel_shape(x)), rate)


@DROPOUTS.register('locked')
def _locked(module, x, rate, train):
  """One mask per sequence, shared by all time steps, on the layer inputs and
  outputs only (never on the recurrent state)."""
  if not train:
    return x
  return _inverted(x, _keep_mask(module, rate, _channel_shape(x)), rate)


@DROPOUTS.register('variational')
def _variational(module, x, rate, train):
  """Variational dropout (Gal & Ghahramani 2016), recurrent models only: one
  mask per sequence on the inputs and, inside each recurrent layer, on the
  state h fed back at every step."""
  # This layer is the input part; the recurrent layer masks h itself.
  return _locked(module, x, rate, train)


@DROPOUTS.register('per_step_recurrent')
def _per_step_recurrent(module, x, rate, train):
  """The per-step counterpart of 'variational', recurrent models only: the
  same connections, each with a fresh mask at every time step: the inputs
  here (as 'standard') and, inside each recurrent layer, the state h fed
  back into the cell (the notes' "dropout between time steps")."""
  # This layer is the input part; the recurrent layer masks h itself.
  return _standard(module, x, rate, train)


def step_mask(key, rate, shape) -> jnp.ndarray:
  """An inverted keep mask of `shape` (0 or 1/(1-rate)) drawn from `key`
  (a recurrent layer splits one key per time step); all ones at rate 0,
  exactly."""
  rate = jnp.asarray(rate, jnp.float32)
  keep = jax.random.bernoulli(key, 1.0 - rate, shape)
  return _inverted(jnp.ones(shape, jnp.float32), keep, rate)


def sequence_mask(module, rate, shape, train: bool) -> jnp.ndarray:
  """An inverted keep mask of `shape` (0 or 1/(1-rate)) from the 'dropout'
  stream, all ones outside training (and at rate 0, exactly)."""
  if not train:
    return jnp.ones(shape, jnp.float32)
  rate = jnp.asarray(rate, jnp.float32)
  return _inverted(jnp.ones(shape, jnp.float32),
                   _keep_mask(module, rate, shape), rate)


@DROPOUTS.register('alpha')
def _alpha(module, x, rate, train):
  """Alpha dropout (Klambauer et al. 2017): keeps mean 0 and variance 1.

  Dropped units are set to ALPHA_PRIME, then the affine map a*y + b restores
  the moments of a zero-mean unit-variance input.
  """
  if not train:
    return x
  keep_prob = 1.0 - rate
  denom = keep_prob + ALPHA_PRIME**2 * keep_prob * rate
  a = jnp.where(denom > 0, jax.lax.rsqrt(jnp.where(denom > 0, denom, 1.0)), 0.0)
  b = -a * rate * ALPHA_PRIME
  y = jnp.where(_keep_mask(module, rate, x.shape), x, ALPHA_PRIME)
  return y * a.astype(x.dtype) + b.astype(x.dtype)


class Dropout(nn.Module):
  """Dropout of one `variant`; `rate` may be a tracer."""
  variant: str = 'standard'

  @nn.compact
  def __call__(self, x, rate, train: bool):
    if _statically_zero(rate):
      return x  # every variant keeps every unit unscaled at rate 0
    rate = jnp.asarray(rate, jnp.float32)
    return DROPOUTS.get(self.variant)(self, x, rate, train)


def _statically_zero(rate) -> bool:
  """A Python 0 (not a traced value): the engine passes it when no member of
  a program uses dropout, so no random masks are drawn at all."""
  return isinstance(rate, (int, float)) and rate == 0


def make_dropout(model_cfg) -> Dropout:
  """The Dropout variant named by model_cfg.dropout."""
  DROPOUTS.get(model_cfg.dropout)  # Fail at build time.
  rate = float(model_cfg.dropout_rate)
  if not 0 <= rate < 1:
    raise ConfigError(f'model.dropout_rate={rate} not allowed; need '
                      '0 <= rate < 1')
  return Dropout(variant=model_cfg.dropout)


class Dense(nn.Module):
  """nn.Dense that, with dropconnect=True, drops kernel entries in training.

  DropConnect (Wan et al. 2013) with inverted scaling: each weight is kept with
  probability 1-rate and scaled by 1/(1-rate), so evaluation uses the plain
  kernel. One mask per call is shared by the batch (a per-example mask would
  cost N times the kernel's memory). The bias is never dropped.
  """
  features: int
  kernel_init: Callable = jax.nn.initializers.lecun_normal()
  bias_init: Callable = jax.nn.initializers.zeros
  dropconnect: bool = False

  @nn.compact
  def __call__(self, x, rate=0.0, train: bool = False):
    kernel = self.param('kernel', self.kernel_init,
                        (x.shape[-1], self.features), jnp.float32)
    bias = self.param('bias', self.bias_init, (self.features,), jnp.float32)
    if self.dropconnect and train and not _statically_zero(rate):
      rate = jnp.asarray(rate, jnp.float32)
      kernel = _inverted(kernel, _keep_mask(self, rate, kernel.shape), rate)
    return jnp.dot(x, kernel.astype(x.dtype)) + bias.astype(x.dtype)


class DenseDropConnect(Dense):
  """Dense layer with DropConnect on: `DenseDropConnect(features, kernel_init,
  bias_init)(x, rate, train)`."""
  dropconnect: bool = True

  def __call__(self, x, rate, train: bool):
    return super().__call__(x, rate, train)


def mc_dropout_predict(apply_fn: Callable, x, n_samples: int,
                       rng) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """Monte-Carlo dropout (Gal & Ghahramani 2016): (mean_probs, entropy).

  `apply_fn(x, rng) -> logits (N, C)` runs the model in training mode with
  `rng` as its 'dropout' stream. Returns the softmax averaged over `n_samples`
  passes (N, C) and the entropy of that average, in nats (N,).
  """
  if n_samples < 1:
    raise ConfigError(f'n_samples={n_samples} not allowed; need an int >= 1')
  keys = jax.random.split(rng, n_samples)
  probs = jax.vmap(lambda k: jax.nn.softmax(apply_fn(x, k), axis=-1))(keys)
  mean_probs = probs.mean(axis=0)
  # xlogy gives 0 * log 0 = 0 for classes no sample predicts.
  entropy = -jax.scipy.special.xlogy(mean_probs, mean_probs).sum(axis=-1)
  return mean_probs, entropy
