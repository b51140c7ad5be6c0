"""Models: every registered family trains, known parameter counts, plain vs
residual trees, traced dropout, summaries and config errors.

Big networks (VGG16, ResNet-50) are only traced with jax.eval_shape.
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import traverse_util

from dlexp import data
from dlexp.errors import ConfigError
from dlexp.models import (MODELS, build_model, count_params, defaults,
                          layer_order, summary, tiny_config, validate)
from dlexp.models.inception import InceptionModule
from dlexp.models.summary import trace

IMAGE = (28, 28, 1)  # Fashion-MNIST
SEQUENCE = (40, 1)  # MNIST-1D
BATCH = 8


def model_cfg(**kw):
  cfg = defaults()
  cfg.update(kw)
  return cfg


def shapes(model, input_shape):
  """Variable shapes of `model` from jax.eval_shape (nothing allocated)."""
  return trace(model, input_shape)[0]


def base_count(variables, head_prefixes=('head_', 'logits')):
  """Parameters + BN statistics outside the dense head."""
  return sum(math.prod(leaf.shape) for coll in variables.values()
             for name, tree in coll.items()
             if not name.startswith(head_prefixes)
             for leaf in jax.tree_util.tree_leaves(tree))


@functools.lru_cache(maxsize=None)
def _real(name):
  """A small standardized slice of a real dataset (read or generated once)."""
  cfg = data.defaults()
  cfg.name, cfg.val_size, cfg.train_limit = name, 500, 4 * BATCH
  ds = data.load(cfg)
  return jnp.asarray(ds.train_x), jnp.asarray(ds.train_y)


def batch(input_shape, seed=0):
  """Real data: Fashion-MNIST for images, MNIST-1D for sequences; random
  data for other shapes."""
  real = {IMAGE: 'fashion_mnist', SEQUENCE: 'mnist1d'}.get(input_shape)
  if real:
    x, y = _real(real)
    return x[seed * BATCH:(seed + 1) * BATCH], y[seed * BATCH:(seed + 1) * BATCH]
  kx, ky = jax.random.split(jax.random.key(seed))
  return (jax.random.normal(kx, (BATCH,) + input_shape),
          jax.random.randint(ky, (BATCH,), 0, 10))


# These programs run a handful of times, so compile time is what counts:
# without LLVM's expensive passes XLA-CPU compiles them 2-3x faster.
QUICK = {'xla_backend_optimization_level': 0,
         'xla_llvm_disable_expensive_passes': True}


def quick_jit(fn, *args):
  """fn jitted and compiled for `args` (one compile, quick options)."""
  return jax.jit(fn).lower(*args).compile(compiler_options=QUICK)


def init_variables(model, x):
  # Jitted: one compile instead of one dispatch (and compile) per primitive.
  rngs = {'params': jax.random.key(0), 'dropout': jax.random.key(1)}
  return quick_jit(lambda x: model.init(rngs, x, train=False), x)(x)


def init(model, x):
  variables = init_variables(model, x)
  return variables['params'], variables.get('batch_stats', {})


def predict(model, variables, x):
  return quick_jit(lambda v, x: model.apply(v, x, train=False), variables,
                   x)(variables, x)


def layer_outputs(model, variables, x, rate, train):
  """Outputs of every top-level layer, by name (jitted, dropout seed 4)."""
  def run(v, x, rate):
    _, state = model.apply(v, x, train=train, dropout_rate=rate,
                           rngs={'dropout': jax.random.key(4)},
                           capture_intermediates=True,
                           mutable=['intermediates'])
    return {k: v['__call__'][0] for k, v in state['intermediates'].items()
            if isinstance(v, dict) and '__call__' in v}
  rate = jnp.float32(rate)
  return quick_jit(run, variables, x, rate)(variables, x, rate)


def make_loss(model):
  def loss_fn(params, batch_stats, x, y, rate):
    variables = {'params': params}
    if batch_stats:
      variables['batch_stats'] = batch_stats
    logits, state = model.apply(variables, x, train=True, dropout_rate=rate,
                                rngs={'dropout': jax.random.key(2)},
                                mutable=['batch_stats', 'intermediates'])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, (state, logits)
  return loss_fn


# -- every registered model ------------------------------------------------

@pytest.mark.parametrize('input_shape', [IMAGE, SEQUENCE],
                         ids=['image', 'sequence'])
@pytest.mark.parametrize('name', MODELS.names())
def test_tiny_model_trains(name, input_shape):
  """Forward shape, sown features, 3 SGD steps lower the loss on one batch,
  and dropout_rate is a traced argument (no recompile, changes the loss)."""
  cfg = tiny_config(name)
  # The lax conv compiles in about half the time of im2col, which
  # tests/test_models_conv.py checks against it, values and gradients.
  cfg.conv_impl = 'xla'
  model = build_model(cfg, 10, input_shape)
  x, y = batch(input_shape)
  params, batch_stats = init(model, x)
  loss_fn = make_loss(model)

  def sgd_step(params, batch_stats, rate):
    (loss, (state, logits)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(params, batch_stats, x, y, rate)
    params = jax.tree_util.tree_map(lambda p, g: p - 0.05 * g, params, grads)
    return params, state.get('batch_stats', batch_stats), loss, state, logits

  # One executable for every rate: it cannot depend on the rate's value.
  step = quick_jit(sgd_step, params, batch_stats, jnp.float32(0.0))

  losses = []
  for _ in range(4):  # Three SGD steps, then the loss they reached.
    new_params, batch_stats, loss, state, logits = step(
        params, batch_stats, jnp.float32(0.0))
    losses.append(float(loss))
    if len(losses) < 4:
      params = new_params
  assert logits.shape == (BATCH, 10)
  assert np.all(np.isfinite(losses)), losses
  assert losses[-1] < losses[0], losses
  features = state['intermediates']['features'][0]
  assert features.shape[0] == BATCH and features.ndim == 2
  # The same compiled step with a traced rate of 0.5 drops units.
  dropped = float(step(params, batch_stats, jnp.float32(0.5))[2])
  assert dropped != losses[-1]


@pytest.mark.parametrize('name', [n for n in MODELS.names()
                                  if MODELS.get(n).vmap_friendly])
def test_vmap_friendly_models_vmap_over_dropout_rate(name):
  model = build_model(tiny_config(name), 10, SEQUENCE)
  x, _ = batch(SEQUENCE)
  params, _ = init(model, x)
  rates = jnp.array([0.0, 0.5])
  out = quick_jit(jax.vmap(lambda r: model.apply(
      {'params': params}, x, train=True, dropout_rate=r,
      rngs={'dropout': jax.random.key(3)})), rates)(rates)
  clean = predict(model, {'params': params}, x)
  np.testing.assert_allclose(out[0], clean, rtol=1e-5, atol=1e-5)
  assert not np.allclose(out[1], clean)


@pytest.mark.parametrize('name', MODELS.names())
def test_summary_totals_equal_variable_sizes(name):
  model = build_model(tiny_config(name), 10, IMAGE)
  variables, rows = trace(model, IMAGE)
  sizes = {coll: sum(math.prod(v.shape)
                     for v in jax.tree_util.tree_leaves(tree))
           for coll, tree in variables.items()}
  text = summary(model, IMAGE, num_classes=10)
  assert f'Total params: {sum(sizes.values()):,}' in text
  assert f'Trainable params: {sizes["params"]:,}' in text
  non_trainable = sum(sizes.values()) - sizes['params']
  assert f'Non-trainable params: {non_trainable:,}' in text
  # Every top-level layer with variables has a row: the rows add up.
  row_total = sum(int(line.split()[-1].replace(',', ''))
                  for line in text.splitlines()
                  if line.split()[0] in {r[0] for r in rows})
  assert row_total == sum(sizes.values())
  assert rows[-1][0] == 'logits' and rows[-1][2] == '(None, 10)'


# -- parameter counts ------------------------------------------------------

def test_default_mlp_has_271410_parameters():
  """README's count: 784*100+100 in, 19 x (100*100+100) hidden, 100*10+10
  out."""
  model = build_model(defaults(), 10, IMAGE)
  counts = count_params(shapes(model, IMAGE))
  assert 784 * 100 + 100 + 19 * (100 * 100 + 100) + 100 * 10 + 10 == 271_410
  assert counts == {'total': 271_410, 'trainable': 271_410,
                    'non_trainable': 0}


def test_cnn_has_225034_parameters():
  """README's count for the Keras beginner's CNN on 28x28x1: conv 3x3x1x32,
  conv 3x3x32x64, dense 5*5*64 -> 128, dense 128 -> 10, with biases."""
  model = build_model(model_cfg(name='cnn'), 10, IMAGE)
  counts = count_params(shapes(model, IMAGE))
  assert (9 * 32 + 32) + (9 * 32 * 64 + 64) + (1600 * 128 + 128) + (
      128 * 10 + 10) == 225_034
  assert counts == {'total': 225_034, 'trainable': 225_034,
                    'non_trainable': 0}


def test_vgg16_counts_match_keras():
  """The notes' Keras summary (002): VGG16(include_top=False) on 32x32x3 has
  14,714,688 params; with the 1024-512-256-128-10 head, 15,930,314."""
  model = build_model(model_cfg(name='vgg', variant='vgg16',
                                head=(1024, 512, 256, 128)), 10, (32, 32, 3))
  variables = shapes(model, (32, 32, 3))
  assert base_count(variables) == 14_714_688
  assert count_params(variables) == {'total': 15_930_314,
                                     'trainable': 15_930_314,
                                     'non_trainable': 0}


def test_resnet50_counts_match_keras():
  """keras.applications.ResNet50(include_top=False): 23,587,712 weights of
  which 23,534,592 trainable (53,120 BN moving statistics); with the notes'
  1024-512-256-128-10 head 26,376,202 (the notes' Keras summary, seed 002)."""
  model = build_model(model_cfg(name='resnet', variant='resnet50',
                                head=(1024, 512, 256, 128)), 10, (32, 32, 3))
  variables = shapes(model, (32, 32, 3))
  assert base_count(variables) == 23_587_712
  assert base_count({'params': variables['params']}) == 23_534_592
  assert count_params(variables) == {'total': 26_376_202,
                                     'trainable': 26_323_082,
                                     'non_trainable': 53_120}
  text = summary(model, (32, 32, 3))
  assert 'stage4_block3 (Block)' in text and '(None, 1, 1, 2048)' in text


@pytest.mark.parametrize('depth,millions,readme', [
    (20, 0.27, 0.270), (32, 0.46, 0.464), (44, 0.66, 0.659),
    (56, 0.85, 0.853), (110, 1.7, 1.728)])
def test_cifar_resnet_counts_match_he_et_al(depth, millions, readme):
  """He et al. 2015, Table 6 (CIFAR-10): # params per depth, within 2%; and
  the three-decimal counts README quotes."""
  model = build_model(model_cfg(name='resnet', variant=f'resnet{depth}'), 10,
                      (32, 32, 3))
  trainable = count_params(shapes(model, (32, 32, 3)))['trainable']
  assert abs(trainable / 1e6 - millions) <= 0.02 * millions, trainable
  assert round(trainable / 1e6, 3) == readme, trainable


def test_default_mlp_is_the_notes_exercise():
  """20 hidden layers of 100 units on 28x28 inputs, 10 classes."""
  model = build_model(defaults(), 10, IMAGE)
  params = shapes(model, IMAGE)['params']
  kernels = [params[f'dense{i}']['kernel'].shape for i in range(1, 21)]
  assert kernels[0] == (784, 100) and set(kernels[1:]) == {(100, 100)}
  assert params['logits']['kernel'].shape == (100, 10)
  assert 'dense21' not in params


def test_cnn_is_the_keras_beginner_network():
  model = build_model(model_cfg(name='cnn'), 10, IMAGE)
  params = shapes(model, IMAGE)['params']
  assert params['conv1']['kernel'].shape == (3, 3, 1, 32)
  assert params['conv2']['kernel'].shape == (3, 3, 32, 64)
  # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5: 5*5*64 features.
  assert params['head_dense1']['kernel'].shape == (1600, 128)


def test_vgg_uses_only_3x3_convs():
  model = build_model(model_cfg(name='vgg', variant='vgg19'), 10, (32, 32, 3))
  params = shapes(model, (32, 32, 3))['params']
  convs = [v['kernel'].shape for k, v in params.items() if '_conv' in k]
  assert len(convs) == 16 and {s[:2] for s in convs} == {(3, 3)}


# -- architecture details --------------------------------------------------

def test_inception_module_concatenates_its_branches():
  channels = dict(c1=3, c3_reduce=2, c3=5, c5_reduce=2, c5=4, pool_proj=6)
  parts = build_model(tiny_config('inception'), 10, IMAGE).parts
  module = InceptionModule(parts, **channels)
  x = jnp.ones((2, 8, 8, 7))
  out, _ = jax.eval_shape(
      lambda x: module.init_with_output(jax.random.key(0), x, train=False), x)
  assert out.shape == (2, 8, 8, 3 + 5 + 4 + 6)


@pytest.mark.parametrize('variant', ['resnet20', 'resnet18', 'resnet50'])
def test_plain_resnet_has_the_residual_parameter_tree(variant):
  trees = []
  for plain in (False, True):
    model = build_model(model_cfg(name='resnet', variant=variant, plain=plain),
                        10, (32, 32, 3))
    variables = shapes(model, (32, 32, 3))
    trees.append(traverse_util.flatten_dict(jax.tree_util.tree_map(
        lambda v: v.shape, variables)))
  assert trees[0] == trees[1]


@pytest.mark.parametrize('variant', ['resnet8', 'resnet18'])
def test_plain_resnet_drops_the_skips(variant):
  """Same parameters, different function: the skips are really gone."""
  shape = (8, 8, 3)
  x, _ = batch(shape)
  outs = []
  for plain in (False, True):
    model = build_model(model_cfg(name='resnet', variant=variant, plain=plain,
                                  width_mult=0.125, conv_impl='xla'), 10,
                        shape)
    if not outs:
      variables = init_variables(model, x)
    outs.append(predict(model, variables, x))
  assert not np.allclose(outs[0], outs[1])


def test_rnn_reads_images_row_by_row():
  model = build_model(tiny_config('gru'), 10, IMAGE)
  x, _ = batch(IMAGE)
  params, _ = init(model, x)
  rows = predict(model, {'params': params}, x[..., 0])
  np.testing.assert_allclose(predict(model, {'params': params}, x), rows,
                             rtol=1e-6)
  assert params['gru1']['cell']['ir']['kernel'].shape == (28, 16)


@pytest.mark.parametrize('variant', ['locked', 'standard'])
def test_rnn_input_dropout_masks_per_sequence_or_per_step(variant):
  """'locked': one input mask per sequence, a dropped feature is dropped at
  every step. 'standard': a fresh mask at every step (it used to run as
  'locked'), so about rate of the features are dropped at each step and
  which ones changes from step to step."""
  cfg = tiny_config('lstm')
  cfg.dropout = variant
  model = build_model(cfg, 10, (40, 3))
  x = jnp.ones((4, 40, 3))
  variables = init_variables(model, x)
  outputs = layer_outputs(model, variables, x, 0.5, train=True)
  dropped = np.asarray(outputs['input_dropout'] == 0)
  assert 0.35 < dropped.mean() < 0.65
  same_as_first_step = np.all(dropped == dropped[:, :1, :], axis=(0, 2))
  if variant == 'locked':
    assert same_as_first_step.all()
  else:  # 12 draws a step: equal to step 0 with probability 2**-12 each
    assert same_as_first_step[1:].sum() <= 1


@pytest.mark.parametrize('cell,recurrent_kernel', [('lstm', 'hi'),
                                                   ('gru', 'hr')])
def test_variational_dropout_masks_the_recurrent_state(cell,
                                                       recurrent_kernel):
  """Gal & Ghahramani: one mask per sequence on h fed back at every step. A
  unit dropped from h for a sequence contributes to no step's recurrent
  matmul, so its row of the recurrent kernel gets exactly zero gradient from
  that sequence; with a fresh mask per step (or none), no row would. Two
  sequences draw different masks."""
  x = jax.random.normal(jax.random.key(0), (2, 20, 3))
  grads = {}
  for variant in ('variational', 'locked'):
    model = build_model(model_cfg(name=cell, rnn_hidden=16, dropout=variant),
                        10, (20, 3))
    params = init_variables(model, x)['params']

    def sequence_loss(params, i):
      logits = model.apply({'params': params}, x, train=True,
                           dropout_rate=0.5,
                           rngs={'dropout': jax.random.key(5)})
      return logits[i].sum()

    grads[variant] = [np.asarray(jax.grad(sequence_loss)(params, i)[
        f'{cell}1']['cell'][recurrent_kernel]['kernel']) for i in (0, 1)]
  dropped = [np.all(g == 0, axis=1) for g in grads['variational']]
  for d in dropped:
    assert 2 <= d.sum() <= 14, d  # about half of 16 units, at rate 0.5
  assert not np.array_equal(dropped[0], dropped[1])
  # Locked dropout never touches the recurrent state.
  for g in grads['locked']:
    assert not np.any(np.all(g == 0, axis=1))


def test_state_dropout_cell_feeds_the_masked_state_to_the_cell():
  from dlexp.models.rnn import StateDropoutCell  # pylint: disable=g-import-not-at-top
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  lstm = nn.LSTMCell(4)
  x = jax.random.normal(jax.random.key(1), (3, 2))
  c, h = (jax.random.normal(jax.random.key(i), (3, 4)) for i in (2, 3))
  mask = jnp.array([[2.0, 0.0, 2.0, 0.0]] * 3)
  variables = lstm.init(jax.random.key(0), (c, h), x)
  # Unbound, the wrapped cell becomes the wrapper's child 'cell'.
  wrapped = {'params': {'cell': variables['params']}}
  ((c1, h1), kept), y = StateDropoutCell(lstm).apply(wrapped, ((c, h), mask),
                                                     x)
  (c2, h2), y2 = lstm.apply(variables, (c, h * mask), x)
  np.testing.assert_array_equal(kept, mask)  # the same mask next step
  np.testing.assert_array_equal(h1, h2)
  np.testing.assert_array_equal(c1, c2)
  np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize('cell', ['lstm', 'gru'])
def test_variational_dropout_at_rate_zero_is_no_dropout(cell):
  x = jax.random.normal(jax.random.key(0), (3, 12, 2))
  outs = []
  for variant in ('variational', 'none'):
    model = build_model(model_cfg(name=cell, rnn_hidden=8, dropout=variant),
                        10, (12, 2))
    if not outs:
      params = init_variables(model, x)['params']
    outs.append(model.apply({'params': params}, x, train=True,
                            dropout_rate=0.0,
                            rngs={'dropout': jax.random.key(1)}))
  np.testing.assert_array_equal(outs[0], outs[1])


# -- layer order -------------------------------------------------------------

def _first_layer_reads_the_input(name, params, order, input_shape):
  """The first layer's kernel takes the raw input's features: its fan-in
  axis has the input's channels (conv), its flat size (mlp) or one image
  row (rnn)."""
  kernel = traverse_util.flatten_dict(params)
  kernel = {'/'.join(p[:-1]): v for p, v in kernel.items()
            if p[-1] == 'kernel'}[order[0]]
  h, w, c = input_shape
  allowed = {'mlp': h * w * c}.get(name)
  if allowed is None:
    allowed = w * c if MODELS.get(name).recurrent else c
  return kernel.shape[-2] == allowed


EXPECTED_ENDS = {
    'alexnet': ('conv1', 'logits'), 'cnn': ('conv1', 'logits'),
    'gru': ('gru1/cell/ir', 'logits'), 'inception': ('stem', 'logits'),
    'lstm': ('lstm1/cell/ii', 'logits'), 'mlp': ('dense1', 'logits'),
    'resnet': ('stem', 'logits'), 'rnn': ('lstm1/cell/ii', 'logits'),
    'vgg': ('block1_conv1', 'logits'),
}


@pytest.mark.parametrize('name', MODELS.names())
def test_layer_order_runs_from_the_stem_to_the_classifier(name):
  input_shape = (28, 28, 3)
  model = build_model(tiny_config(name), 10, input_shape)
  order = layer_order(model, input_shape)
  assert (order[0], order[-1]) == EXPECTED_ENDS[name]
  params = shapes(model, input_shape)['params']
  assert _first_layer_reads_the_input(name, params, order, input_shape)
  assert params['logits']['kernel'].shape[-1] == 10
  # Every kernel and every activation is in the order, once.
  kernels = {'/'.join(p[:-1]) for p in traverse_util.flatten_dict(params)
             if p[-1] == 'kernel'}
  assert kernels <= set(order) and len(order) == len(set(order))


def test_layer_order_is_not_the_sorted_names():
  """The case that sorting got wrong: resnet's stem sorts after its stages
  ('stage' < 'stem'), so 'first' was a late layer."""
  model = build_model(tiny_config('resnet'), 10, IMAGE)
  order = [n for n in layer_order(model, IMAGE) if n.endswith('_act')]
  assert order[0] == 'stem_act' and sorted(order)[0] != 'stem_act'
  assert order[-1] == 'stage3_block1/out_act'


def test_layer_order_has_every_module_with_parameters():
  """BatchNorm's parameters get grad_norm diagnostics: their module is in
  the order too, right after its dense layer."""
  model = build_model(model_cfg(depth=2, width=8, norm='batch'), 10, IMAGE)
  assert layer_order(model, IMAGE) == [
      'dense1', 'norm1/BatchNorm_0', 'act1', 'dense2', 'norm2/BatchNorm_0',
      'act2', 'logits']


@pytest.mark.parametrize('norm,has_stats', [('default', True), ('none', False),
                                            ('batch', True)])
def test_resnet_norm_default_is_batch(norm, has_stats):
  model = build_model(model_cfg(name='resnet', variant='resnet8', norm=norm),
                      10, (8, 8, 3))
  assert ('batch_stats' in shapes(model, (8, 8, 3))) == has_stats


def test_mlp_batch_norm_updates_running_stats():
  model = build_model(model_cfg(depth=2, width=8, norm='batch'), 10, IMAGE)
  x, _ = batch(IMAGE)
  variables = init_variables(model, x)
  train = lambda v, x: model.apply(v, x, train=True, mutable=['batch_stats'],
                                   rngs={'dropout': jax.random.key(0)})
  _, new = quick_jit(train, variables, x)(variables, x)
  mean = lambda tree: jax.tree_util.tree_leaves(tree['norm1'])[0]
  assert not np.allclose(mean(new['batch_stats']),
                         mean(variables['batch_stats']))


def test_mlp_dropconnect_drops_weights_not_units():
  model = build_model(model_cfg(depth=2, width=32, dropout='dropconnect'), 10,
                      IMAGE)
  x, _ = batch(IMAGE)
  params, _ = init(model, x)
  clean = layer_outputs(model, {'params': params}, x, 0.0, train=False)
  noisy = layer_outputs(model, {'params': params}, x, 0.5, train=True)
  # The first layer reads the raw input: nothing dropped before it.
  np.testing.assert_allclose(noisy['dense1'], clean['dense1'], rtol=1e-6)
  # The second layer's weights are dropped; its input units are not.
  np.testing.assert_allclose(noisy['dropout1'], noisy['act1'])
  assert not np.allclose(noisy['dense2'], clean['dense2'])


def _reference_mlp(params, x, residual):
  """The plain dense -> relu stack written out, optionally with the skip
  h + relu(dense(h)) wherever the widths match."""
  h = x.reshape(x.shape[0], -1)
  names = sorted((k for k in params if k.startswith('dense')),
                 key=lambda k: int(k[len('dense'):]))
  for name in names:
    kernel, bias = params[name]['kernel'], params[name]['bias']
    out = jnp.maximum(jnp.dot(h, kernel) + bias, 0)
    h = out + h if residual and h.shape[-1] == out.shape[-1] else out
  return jnp.dot(h, params['logits']['kernel']) + params['logits']['bias']


@pytest.mark.parametrize('residual', [False, True])
def test_mlp_residual_skips_equal_widths_only(residual):
  """residual=False is the plain stack bit for bit; residual=True adds the
  identity around layers 2.. (784 -> 16 has no skip); same parameters."""
  x, _ = batch(IMAGE)
  model = build_model(model_cfg(depth=3, width=16, residual=residual), 10,
                      IMAGE)
  plain = build_model(model_cfg(depth=3, width=16), 10, IMAGE)
  variables = init_variables(model, x)
  assert jax.tree_util.tree_map(jnp.shape, variables) == (
      jax.tree_util.tree_map(jnp.shape, init_variables(plain, x)))
  got = predict(model, variables, x)
  reference = lambda skip: functools.partial(_reference_mlp, residual=skip)
  ref = quick_jit(reference(residual), variables['params'], x)(
      variables['params'], x)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
  other = quick_jit(reference(not residual), variables['params'], x)(
      variables['params'], x)
  assert not np.allclose(got, other)


@pytest.mark.parametrize('activation,std', [('relu', math.sqrt(2 / 784)),
                                            ('selu', math.sqrt(1 / 784))])
def test_default_kernel_init_follows_the_activation(activation, std):
  model = build_model(model_cfg(depth=1, width=512, activation=activation), 10,
                      IMAGE)
  params, _ = init(model, jnp.zeros((1,) + IMAGE))
  assert float(jnp.std(params['dense1']['kernel'])) == pytest.approx(std,
                                                                     rel=0.05)


def test_conv_impls_agree_on_a_model():
  x, _ = batch(IMAGE)
  outs = []
  for impl in ('xla', 'im2col'):
    model = build_model(model_cfg(name='alexnet', width_mult=0.0625,
                                  conv_impl=impl), 10, IMAGE)
    if not outs:
      variables = init_variables(model, x)
    outs.append(predict(model, variables, x))
  np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5)


# -- config errors ---------------------------------------------------------

@pytest.mark.parametrize('overrides,match', [
    (dict(name='resnt'), "unknown model 'resnt' \\(did you mean 'resnet'"),
    (dict(name='vgg', variant='vgg15'), "variant='vgg15'.*vgg11"),
    (dict(name='resnet', variant='resnet21'), "variant='resnet21'.*resnet20"),
    (dict(name='mlp', variant='big'), "variant='big'"),
    (dict(depth=-1), 'depth=-1.*>= 0'),
    (dict(width=0), 'width=0'),
    (dict(hidden=(64, 0)), 'hidden'),
    (dict(dropout_rate=1.0), 'dropout_rate=1.0'),
    (dict(dropout_rate=-0.1), 'dropout_rate=-0.1'),
    (dict(norm='layer'), "norm='layer'.*batch"),
    (dict(activation='relu6'), "activation 'relu6'"),
    (dict(kernel_init='he'), "initializer 'he'"),
    (dict(dropout='gaussian'), "dropout variant 'gaussian'"),
    (dict(cell='rnn'), "cell='rnn'"),
    (dict(conv_impl='fft'), "conv_impl='fft'"),
    (dict(width_mult=0.0), 'width_mult=0.0'),
    (dict(plain=True), 'plain=True.*resnet'),
    (dict(name='cnn', residual=True), "residual=True not allowed.*'cnn'"),
    (dict(dropout='variational'),
     "dropout='variational' not allowed for model 'mlp'.*'locked'"),
    (dict(name='cnn', dropout='variational'), "model 'cnn'"),
    (dict(name='vgg', lrn=False), "lrn=False not allowed for model 'vgg'"),
    (dict(name='alexnet', bottleneck=False), "bottleneck=False.*inception"),
    (dict(name='resnet', stacked_3x3=False), "stacked_3x3=False.*vgg"),
    (dict(bidirectional=True), "bidirectional=True not allowed.*'mlp'"),
    (dict(name='gru', readout='mean'), "readout='mean'.*last, all"),
    (dict(name='cnn', variant='lenet'), "variant='lenet'.*mnist1d"),
])
def test_validate_rejects_bad_values(overrides, match):
  with pytest.raises(ConfigError, match=match) as info:
    validate(model_cfg(**overrides))
  assert '\n' not in str(info.value)


def test_conv_families_reject_flat_inputs():
  with pytest.raises(ConfigError, match=r'images \(H, W, C\)'):
    build_model(model_cfg(name='vgg'), 10, (784,))


def test_too_small_inputs_fail_with_a_config_error():
  """The Keras CNN's valid convs and pools need >= 10 px: 8 -> 6 -> 3 -> 1."""
  model = build_model(model_cfg(name='cnn'), 10, (8, 8, 1))
  with pytest.raises(ConfigError, match='input too small'):
    summary(model, (8, 8, 1))


def test_defaults_are_valid_and_command_line_types():
  cfg = defaults()
  validate(cfg)
  for key, value in cfg.items():
    assert isinstance(value, (int, float, str, bool, tuple)), key


@pytest.mark.parametrize('name', ['mlp', 'cnn'])
def test_norm_position_after_puts_batch_norm_after_the_activation(name):
  """'before' (the default): the activation sees the normalized values, so
  a ReLU output is zero for about half the units of each batch; 'after':
  the norm layer sees the ReLU output and its output is (0, 1)-standardized
  per unit over the batch (gamma 1, beta 0 at init)."""
  shape = (40, 1) if name == 'cnn' else (12,)
  x = jax.random.normal(jax.random.key(0), (256,) + shape) + 3.0
  outs = {}
  for position in ('before', 'after'):
    cfg = model_cfg(name=name, norm='batch', norm_position=position,
                    depth=2, width=16, width_mult=0.25)
    model = build_model(cfg, 10, shape)
    variables = model.init(jax.random.key(1), x, train=False)
    (_, state) = model.apply(variables, x, train=True,
                             capture_intermediates=True,
                             mutable=['intermediates', 'batch_stats'])
    inter = state['intermediates']
    act = (inter['act1'] if name == 'mlp'
           else inter['conv1_act'])['__call__'][0]
    norm = (inter['norm1'] if name == 'mlp'
            else inter['conv1_bn'])['__call__'][0]
    outs[position] = (np.asarray(act), np.asarray(norm))
  act, _ = outs['before']
  assert 0.3 < (act == 0).mean() < 0.7  # ReLU of standardized values
  act, norm = outs['after']
  axes = tuple(range(norm.ndim - 1))
  np.testing.assert_allclose(norm.mean(axis=axes), 0, atol=1e-4)
  # Units whose ReLU output hardly varies are scaled by 1/sqrt(var + eps).
  live = act.std(axis=axes) > 0.05
  assert live.sum() >= 4
  np.testing.assert_allclose(norm.std(axis=axes)[live], 1, atol=1e-2)
  assert (norm < 0).any()  # standardized after the ReLU, so not >= 0


@pytest.mark.parametrize('overrides,message', [
    (dict(norm='none', norm_position='after'), 'needs model.norm=batch'),
    (dict(name='resnet', norm='batch', norm_position='after'),
     "not allowed for model 'resnet'"),
    (dict(norm_position='middle'), "model.norm_position='middle'"),
])
def test_norm_position_errors(overrides, message):
  from dlexp.models.config import validate  # pylint: disable=g-import-not-at-top
  with pytest.raises(ConfigError, match=message):
    validate(model_cfg(**overrides))


def test_rnn_input_dropout_off_leaves_the_input_and_drops_between_layers():
  """A one-channel sequence under a per-sequence mask would be dropped
  whole; with model.rnn_input_dropout=False the input is left alone while
  the stacked layers still get their (per-step) dropout."""
  cfg = model_cfg(name='lstm', hidden=(8, 8), rnn_input_dropout=False)
  model = build_model(cfg, 10, (40, 1))
  x = jnp.ones((4, 40, 1))
  variables = init_variables(model, x)
  outputs = layer_outputs(model, variables, x, 0.5, train=True)
  assert 'input_dropout' not in outputs
  dropped = np.asarray(outputs['lstm1_dropout'] == 0)
  assert 0.3 < dropped.mean() < 0.7
  with pytest.raises(ConfigError, match='rnn_input_dropout=False not allowed'):
    from dlexp.models.config import validate  # pylint: disable=g-import-not-at-top
    validate(model_cfg(rnn_input_dropout=False))


def test_variational_gru_masks_the_matmuls_not_the_carried_state():
  """Gal & Ghahramani's GRU: h W_h* use the masked h, the update z * h the
  unmasked one (masking flax's carry would rescale the carried state by
  1 / keep at every step). Checked against the GRU equations in numpy."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  from dlexp.models.rnn import VariationalGRUCell  # pylint: disable=g-import-not-at-top
  x = jax.random.normal(jax.random.key(1), (3, 2))
  h = jax.random.normal(jax.random.key(2), (3, 4))
  mask = jnp.array([[2.0, 0.0, 2.0, 0.0]] * 3)
  cell = VariationalGRUCell(4)
  variables = cell.init(jax.random.key(0), h, x)
  # Without a mask it is flax's GRUCell, parameter for parameter.
  plain, _ = nn.GRUCell(4).apply(variables, h, x)
  np.testing.assert_array_equal(cell.apply(variables, h, x)[0], plain)
  p = jax.tree_util.tree_map(np.asarray, variables['params'])
  sig = lambda a: 1 / (1 + np.exp(-a))
  hm = np.asarray(h) * np.asarray(mask)
  dense = lambda name, v: v @ p[name]['kernel'] + p[name].get('bias', 0)
  r = sig(dense('ir', x) + dense('hr', hm))
  z = sig(dense('iz', x) + dense('hz', hm))
  n = np.tanh(dense('in', x) + r * dense('hn', hm))
  expected = (1 - z) * n + z * np.asarray(h)
  got, _ = cell.apply(variables, h, x, mask)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
