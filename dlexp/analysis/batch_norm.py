"""BatchNorm after training: the learned gamma and beta, accuracy with
BatchNorm in training mode (batch statistics) next to inference mode
(running averages), what each batch looks like after the normalization
step and before gamma and beta, and what the learned gamma and beta are
worth (accuracy with them reset to 1 and 0)."""
import functools
from typing import Any, Dict, List

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from dlexp import losses

# Units whose learned |gamma| is below this are left out of the normalized
# statistics: x_hat = (y - beta) / gamma is not recoverable from them.
MIN_GAMMA = 1e-3


def _is_bn(path) -> bool:
  return any(str(k).startswith('BatchNorm') for k in path[:-1])


def _bn_leaves(params, name: str) -> List[Any]:
  """The BatchNorm parameters called `name` ('scale' = gamma, 'bias' =
  beta), each (members, units)."""
  return [v for p, v in traverse_util.flatten_dict(params).items()
          if p[-1] == name and _is_bn(p)]


def identity_affine(params):
  """`params` with every BatchNorm's gamma set to 1 and beta to 0: the
  normalization step alone, without the learned scale and shift."""
  flat = traverse_util.flatten_dict(params)
  out = {}
  for path, value in flat.items():
    if _is_bn(path) and path[-1] == 'scale':
      value = jnp.ones_like(value)
    elif _is_bn(path) and path[-1] == 'bias':
      value = jnp.zeros_like(value)
    out[path] = value
  return traverse_util.unflatten_dict(out)


def normalized_batch_stats(y, scale, bias):
  """Per-unit mean and variance over the batch (and any spatial axes) of
  x_hat = (y - bias) / scale, a BatchNorm layer's output `y` before its
  scale and shift; and which units could be recovered (|scale| >=
  MIN_GAMMA). Returns (means, variances, ok), each (units,)."""
  axes = tuple(range(y.ndim - 1))
  ok = jnp.abs(scale) >= MIN_GAMMA
  x_hat = (y - bias) / jnp.where(ok, scale, 1.0)
  return jnp.mean(x_hat, axes), jnp.var(x_hat, axes), ok


def _normalized_sums(apply):
  """Calls `apply()` with every BatchNorm call intercepted; returns its
  output and the sums over layers and units of |batch mean| and batch
  variance of the normalized values, with the number of units summed."""
  found = []

  def interceptor(next_fun, args, kwargs, context):
    y = next_fun(*args, **kwargs)
    module = context.module
    if isinstance(module, nn.BatchNorm) and context.method_name == '__call__':
      scale = (module.get_variable('params', 'scale') if module.use_scale
               else jnp.ones(y.shape[-1], y.dtype))
      bias = (module.get_variable('params', 'bias') if module.use_bias
              else jnp.zeros(y.shape[-1], y.dtype))
      found.append(normalized_batch_stats(y, scale, bias))
    return y

  with nn.intercept_methods(interceptor):
    out = apply()
  zero = jnp.float32(0)
  sums = [zero, zero, zero]
  for means, variances, ok in found:
    w = ok.astype(jnp.float32)
    sums[0] += jnp.sum(w * jnp.abs(means))
    sums[1] += jnp.sum(w * variances)
    sums[2] += jnp.sum(w)
  return out, tuple(sums)


@functools.partial(jax.jit, static_argnums=(0,))
def _train_mode_eval(steps, params, batch_stats, hp, xs, ys):
  """Accuracy and loss with BatchNorm normalizing by each batch's own
  statistics (training mode; dropout off; statistics not kept), the
  statistics of the normalized values, and the inference-mode accuracy of
  the same examples with the learned and with identity gamma and beta."""

  def member(p, bs, h):
    variables = steps.variables(p, bs)
    plain = steps.variables(identity_affine(p), bs)

    def body(totals, batch):
      x, y = batch
      (logits, _), norm_sums = _normalized_sums(
          lambda: steps.model.apply(variables, x, train=True,
                                    dropout_rate=0.0,
                                    mutable=['batch_stats']))
      same = steps.model.apply(variables, x, train=False, dropout_rate=0.0)
      reset = steps.model.apply(plain, x, train=False, dropout_rate=0.0)
      sums = (jnp.sum(losses.accuracy(logits, y)),
              jnp.sum(steps.loss_fn(logits, y, h)),
              jnp.sum(losses.accuracy(same, y)),
              jnp.sum(losses.accuracy(reset, y))) + norm_sums
      return tuple(t + v for t, v in zip(totals, sums)), None

    (acc, loss, inference, reset, abs_mean, var, units), _ = jax.lax.scan(
        body, (jnp.float32(0),) * 7, (xs, ys))
    n = xs.shape[0] * xs.shape[1]
    return {'accuracy': acc / n, 'loss': loss / n,
            'inference_accuracy': inference / n,
            'reset_accuracy': reset / n,
            'abs_mean': abs_mean / jnp.maximum(units, 1),
            'variance': var / jnp.maximum(units, 1), 'units': units}

  return jax.vmap(member)(params, batch_stats, hp)


def batch_norm_hook(ctx) -> Dict[str, np.ndarray]:
  """'bn_gamma_mean', 'bn_gamma_std', 'bn_beta_mean', 'bn_beta_std' over all
  BatchNorm units (nan without BatchNorm); 'val_accuracy_train_mode' and
  'val_loss_train_mode': the validation set in batches of the training
  batch size with BatchNorm in training mode (each batch normalized by its
  own mean and variance, as in training), to set beside the inference-mode
  val_accuracy (running averages); 'bn_mode_gap': training-mode minus
  inference-mode accuracy on exactly those examples (0 without BatchNorm).

  The normalization step itself, in training mode on those batches:
  'bn_batch_abs_mean' and 'bn_batch_var', the mean over layers, units and
  batches of |batch mean| and batch variance of x_hat = (y - beta) / gamma,
  each BatchNorm layer's output before its scale and shift (units with
  |gamma| < MIN_GAMMA left out); nan without BatchNorm.

  'bn_affine_cost': inference-mode accuracy with the learned gamma and beta
  minus with every gamma 1 and beta 0 (the normalization step alone), on
  the same examples; 0 without BatchNorm."""
  out = {}
  for name, key in (('scale', 'gamma'), ('bias', 'beta')):
    leaves = _bn_leaves(jax.device_get(ctx.params), name)
    if leaves:
      values = np.concatenate([np.asarray(v).reshape(v.shape[0], -1)
                               for v in leaves], axis=1)
      out[f'bn_{key}_mean'] = values.mean(axis=1)
      out[f'bn_{key}_std'] = values.std(axis=1)
    else:
      nan = np.full(len(ctx.members), np.nan)
      out[f'bn_{key}_mean'] = out[f'bn_{key}_std'] = nan
  b = ctx.steps.batch_size
  xs, ys, ws = ctx.data.val
  x = xs.reshape((-1,) + xs.shape[2:])
  y = ys.reshape((-1,) + ys.shape[2:])
  n = int(np.asarray(ws).sum()) // b * b  # whole batches of real examples
  x = x[:n].reshape((n // b, b) + x.shape[1:])
  y = y[:n].reshape((n // b, b) + y.shape[1:])
  res = _train_mode_eval(ctx.steps, ctx.params, ctx.batch_stats, ctx.hp, x, y)
  out['val_accuracy_train_mode'] = np.asarray(res['accuracy'])
  out['val_loss_train_mode'] = np.asarray(res['loss'])
  out['bn_mode_gap'] = np.asarray(res['accuracy'] - res['inference_accuracy'])
  has_bn = np.asarray(res['units']) > 0
  out['bn_batch_abs_mean'] = np.where(has_bn, np.asarray(res['abs_mean']),
                                      np.nan)
  out['bn_batch_var'] = np.where(has_bn, np.asarray(res['variance']), np.nan)
  out['bn_affine_cost'] = np.asarray(res['inference_accuracy']
                                     - res['reset_accuracy'])
  return out
