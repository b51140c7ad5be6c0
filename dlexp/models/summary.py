"""Keras-like model summary computed from shapes only (jax.eval_shape), so
even VGG16 or ResNet-50 are summarized without allocating or computing."""
import math
from typing import Dict, List, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from dlexp.layers import Activation

_RULE_WIDTH = 78


def count_params(variables) -> Dict[str, int]:
  """Sizes of 'params' (trainable) and the other collections such as
  'batch_stats' (non-trainable, like Keras's BN moving statistics)."""
  sizes = {name: sum(math.prod(x.shape)
                     for x in jax.tree_util.tree_leaves(tree))
           for name, tree in variables.items()}
  trainable = sizes.get('params', 0)
  total = sum(sizes.values())
  return {'total': total, 'trainable': trainable,
          'non_trainable': total - trainable}


def _shape(out) -> str:
  shapes = [tuple(x.shape) for x in jax.tree_util.tree_leaves(out)]
  text = [str((None,) + s[1:]) if s else '()' for s in shapes]
  return text[0] if len(text) == 1 else '[' + ', '.join(text) + ']'


Row = Tuple[str, str, str]  # (layer name, module type, output shape)


def trace(model: nn.Module, input_shape) -> Tuple[dict, List[Row]]:
  """(variable shapes, [(layer, type, output shape)] in call order) for one
  (1, *input_shape) float32 input, from shapes only."""
  rows: List[Row] = []
  types: Dict[str, str] = {}

  def top_level(module, method_name):
    path = module.scope.path if module.scope is not None else ()
    if method_name == '__call__' and len(path) == 1:
      types.setdefault(path[0], type(module).__name__)
      return True
    return False

  def run(x):
    rngs = {'params': jax.random.key(0), 'dropout': jax.random.key(1)}
    variables = model.init(rngs, x, train=False)
    _, state = model.apply(variables, x, train=False, rngs=rngs,
                           capture_intermediates=top_level,
                           mutable=['intermediates'])
    # Read the call order here: eval_shape's output pytree sorts dict keys.
    for name, value in state['intermediates'].items():
      if isinstance(value, dict) and '__call__' in value:
        rows.append((name, types.get(name, ''), _shape(value['__call__'])))
    return variables

  x = jax.ShapeDtypeStruct((1,) + tuple(input_shape), jnp.float32)
  variables = jax.eval_shape(run, x)
  return variables, rows


def summary(model: nn.Module, input_shape, num_classes: Optional[int] = None
            ) -> str:
  """A table with one row per top-level layer (name, type, output shape,
  parameters incl. BN statistics), then total / trainable / non-trainable
  counts. `input_shape` has no batch axis; `num_classes` (the dataset's)
  goes in the title line."""
  variables, rows = trace(model, input_shape)
  counts = count_params(variables)

  def layer_size(name):
    return sum(math.prod(leaf.shape) for coll in variables.values()
               for leaf in jax.tree_util.tree_leaves(coll.get(name, {})))

  title = f'Model: {type(model).__name__} on input {tuple(input_shape)}'
  if num_classes is not None:
    title += f', {num_classes} classes'
  lines = [title, '_' * _RULE_WIDTH,
           f'{"Layer (type)":<40}{"Output Shape":<26}{"Param #":>12}',
           '=' * _RULE_WIDTH]
  for name, kind, shape in rows:
    label = f'{name} ({kind})' if kind else name
    lines.append(f'{label:<40}{shape:<26}{layer_size(name):>12,}')
  lines += ['=' * _RULE_WIDTH,
            f'Total params: {counts["total"]:,}',
            f'Trainable params: {counts["trainable"]:,}',
            f'Non-trainable params: {counts["non_trainable"]:,}',
            '_' * _RULE_WIDTH]
  return '\n'.join(lines)


def flops(model: nn.Module, input_shape, batch: int = 1) -> float:
  """Floating-point operations of one inference forward pass of `batch`
  examples of `input_shape` (no batch axis), as XLA's cost analysis counts
  them on the lowered program: 2 per multiply-add of every conv and dense
  layer, plus the elementwise work (biases, activations, normalization,
  pooling). Nothing is compiled or run (shapes only)."""
  x = jax.ShapeDtypeStruct((batch,) + tuple(input_shape), jnp.float32)
  rngs = {'params': jax.random.key(0), 'dropout': jax.random.key(1)}
  variables = jax.eval_shape(lambda x: model.init(rngs, x, train=False), x)
  lowered = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(
      variables, x)
  cost = lowered.cost_analysis()
  if isinstance(cost, (list, tuple)):  # older jax: one dict per program
    cost = cost[0]
  return float(cost['flops'])


def layer_order(model: nn.Module, input_shape) -> List[str]:
  """Paths of the model's layers in the order they are called, first (the
  stem, nearest the input) to last (the classifier): every Activation module
  (as diagnostics name them: 'stage1_block1/conv1_act') and every module
  holding parameters ('stem', 'logits', 'norm1/BatchNorm_0': the names of
  the diagnostics' grad_norm keys). From shapes only (jax.eval_shape).

  Sorting names cannot give this order: resnet's 'stem' sorts after its
  'head_' layers, and jax's tree functions sort dict keys.
  """
  called: List[str] = []
  activations = set()

  def record(next_fun, args, kwargs, context):
    module = context.module
    if context.method_name == '__call__' and module.scope is not None:
      path = '/'.join(str(p) for p in module.scope.path)
      if path and path not in called:
        called.append(path)
      if isinstance(module, Activation):
        activations.add(path)
    return next_fun(*args, **kwargs)

  def run(x):
    rngs = {'params': jax.random.key(0), 'dropout': jax.random.key(1)}
    with nn.intercept_methods(record):
      return model.init(rngs, x, train=False)

  x = jax.ShapeDtypeStruct((1,) + tuple(input_shape), jnp.float32)
  variables = jax.eval_shape(run, x)
  # Every module holding parameters (kernels, and BatchNorm's scale and
  # bias, whose gradient norms the diagnostics log too).
  owners = {'/'.join(str(p) for p in path[:-1])
            for path in _flat_paths(variables.get('params', {}))}
  return [p for p in called if p in activations or p in owners]


def _flat_paths(tree, prefix=()):
  for key, value in tree.items():
    if isinstance(value, dict) or hasattr(value, 'items'):
      yield from _flat_paths(value, prefix + (key,))
    else:
      yield prefix + (key,)
