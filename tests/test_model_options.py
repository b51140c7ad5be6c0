"""Model options that ablate a family's design (AlexNet's LRN, VGG's stacked
3x3 convs, Inception's 1x1 bottlenecks), the published baselines' variants
(MNIST-1D's CNN and GRU, TensorFlow's tutorial CNN, logistic regression) and
FLOPs from XLA's cost analysis: parameter counts by hand."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlexp.models import build_model, count_params, defaults, flops
from dlexp.models.inception import InceptionModule
from dlexp.models.rnn import Recurrent
from dlexp.models.summary import trace

IMAGE32 = (32, 32, 3)


def cfg(**kw):
  c = defaults()
  c.update(kw)
  return c


def variables(name_or_model, input_shape, **kw):
  model = (build_model(cfg(name=name_or_model, **kw), 10, input_shape)
           if isinstance(name_or_model, str) else name_or_model)
  return trace(model, input_shape)[0]


def params_of(tree, prefix):
  return sum(math.prod(v.shape) for k, layer in tree['params'].items()
             if k.startswith(prefix)
             for v in jax.tree_util.tree_leaves(layer))


def test_alexnet_without_lrn_drops_only_the_lrn_layers():
  """LRN has no parameters: the trees are equal, the layers are not."""
  on = build_model(cfg(name='alexnet', width_mult=0.0625), 10, IMAGE32)
  off = build_model(cfg(name='alexnet', width_mult=0.0625, lrn=False), 10,
                    IMAGE32)
  assert (jax.tree_util.tree_map(jnp.shape, variables(on, IMAGE32)) ==
          jax.tree_util.tree_map(jnp.shape, variables(off, IMAGE32)))
  layers = lambda m: [row[0] for row in trace(m, IMAGE32)[1]]
  assert {'lrn1', 'lrn2'} <= set(layers(on))
  assert not any(name.startswith('lrn') for name in layers(off))
  x = jax.random.uniform(jax.random.key(0), (2,) + IMAGE32)
  v = on.init(jax.random.key(1), x, train=False)
  assert not np.allclose(on.apply(v, x, train=False),
                         off.apply(v, x, train=False))


def test_vgg_single_kernels_have_the_stacks_receptive_field():
  """VGG-11 on 32x32x3: blocks (64), (128), (256, 256), (512, 512),
  (512, 512); one (2n+1)^2 conv per block instead of n 3x3 convs."""
  stacked = variables('vgg', IMAGE32, variant='vgg11')
  single = variables('vgg', IMAGE32, variant='vgg11', stacked_3x3=False)
  conv = lambda k, cin, cout: k * k * cin * cout + cout
  assert params_of(stacked, 'block') == (
      conv(3, 3, 64) + conv(3, 64, 128) + conv(3, 128, 256)
      + conv(3, 256, 256) + conv(3, 256, 512) + 3 * conv(3, 512, 512))
  assert params_of(single, 'block') == (
      conv(3, 3, 64) + conv(3, 64, 128) + conv(5, 128, 256)
      + conv(5, 256, 512) + conv(5, 512, 512))
  assert single['params']['block5_conv1']['kernel'].shape == (5, 5, 512, 512)
  assert 'block5_conv2' not in single['params']
  # The claim in its own terms, on block 5 (C -> C, C = 512): two 3x3 convs
  # hold 18 C^2 weights, one 5x5 conv 25 C^2.
  c = 512
  assert params_of(stacked, 'block5') == 18 * c * c + 2 * c
  assert params_of(single, 'block5') == 25 * c * c + c
  # VGG-16's 3-conv blocks become 7x7.
  vgg16 = variables('vgg', IMAGE32, variant='vgg16', stacked_3x3=False)
  assert vgg16['params']['block3_conv1']['kernel'].shape == (7, 7, 128, 256)


def test_inception_module_without_bottlenecks():
  """Without the 1x1 reduces the 3x3 and 5x5 branches convolve all cin input
  channels; the output channels stay c1 + c3 + c5 + pool_proj."""
  cin, ch = 48, dict(c1=8, c3_reduce=6, c3=12, c5_reduce=2, c5=4, pool_proj=5)
  parts = build_model(cfg(name='inception', variant='mini', norm='none'), 10,
                      IMAGE32).parts
  x = jnp.ones((2, 8, 8, cin))
  conv = lambda k, i, o: k * k * i * o + o  # no norm: convs have biases
  counts = {}
  for bottleneck in (True, False):
    module = InceptionModule(parts, **ch, bottleneck=bottleneck)
    out, v = jax.eval_shape(lambda x, m=module: m.init_with_output(
        jax.random.key(0), x, train=False), x)
    assert out.shape == (2, 8, 8, 8 + 12 + 4 + 5)
    counts[bottleneck] = sum(math.prod(a.shape)
                             for a in jax.tree_util.tree_leaves(v))
  assert counts[True] == (conv(1, cin, 8) + conv(1, cin, 6) + conv(3, 6, 12)
                          + conv(1, cin, 2) + conv(5, 2, 4) + conv(1, cin, 5))
  assert counts[False] == (conv(1, cin, 8) + conv(3, cin, 12)
                           + conv(5, cin, 4) + conv(1, cin, 5))


def test_published_baseline_variants():
  """Fashion-MNIST benchmark's convnet.py (TensorFlow's tutorial): 3,274,634
  parameters on 28x28x1; MNIST-1D's ConvBase: 5,210 (its PyTorch count);
  logistic regression: 784 x 10 + 10."""
  conv = lambda k, i, o: k * i * o + o
  tf = variables('cnn', (28, 28, 1), variant='tf_tutorial')
  assert count_params(tf)['total'] == (
      conv(25, 1, 32) + conv(25, 32, 64) + 7 * 7 * 64 * 1024 + 1024
      + 1024 * 10 + 10) == 3_274_634
  m1d = variables('cnn', (40, 1), variant='mnist1d')
  assert count_params(m1d)['total'] == (
      conv(5, 1, 25) + 2 * conv(3, 25, 25) + 25 * 5 * 10 + 10) == 5_210
  assert m1d['params']['conv1']['kernel'].shape == (5, 1, 25)
  logreg = variables('mlp', (28, 28, 1), depth=0)
  assert list(logreg['params']) == ['logits']
  assert count_params(logreg)['total'] == 784 * 10 + 10


def test_bidirectional_gru_reading_every_step():
  """MNIST-1D's GRU: bidirectional, 6 units, a linear readout of all 40
  steps. flax's GRUCell per direction: 3 input denses (1 -> 6, with bias),
  3 recurrent denses (6 -> 6, a bias on the candidate's only)."""
  v = variables('gru', (40, 1), rnn_hidden=6, bidirectional=True,
                readout='all')
  per_direction = 3 * (1 * 6 + 6) + 3 * 6 * 6 + 6
  assert count_params(v)['total'] == 2 * per_direction + 2 * 6 * 40 * 10 + 10
  assert set(v['params']) == {'gru1', 'gru1_reverse', 'logits'}


def test_reverse_recurrent_layer_reads_the_sequence_backwards():
  x = jax.random.normal(jax.random.key(0), (3, 7, 2))
  init = jax.nn.initializers.zeros
  fwd = Recurrent('gru', 4, init)
  back = Recurrent('gru', 4, init, reverse=True)
  v = fwd.init(jax.random.key(1), x)
  expect = fwd.apply(v, x[:, ::-1])[:, ::-1]
  np.testing.assert_allclose(back.apply(v, x), expect, rtol=1e-5, atol=1e-6)


def test_flops_count_the_multiply_adds():
  """XLA's count: 2 per multiply-add plus the elementwise work."""
  logreg = build_model(cfg(depth=0), 10, (28, 28, 1))
  assert flops(logreg, (28, 28, 1)) == 2 * 784 * 10 + 10  # + the bias adds
  cnn = build_model(cfg(name='cnn'), 10, (28, 28, 1))
  macs = 26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 1600 * 128 + 128 * 10
  assert 2 * macs <= flops(cnn, (28, 28, 1)) <= 1.05 * 2 * macs
  assert flops(cnn, (28, 28, 1), batch=4) == pytest.approx(
      4 * flops(cnn, (28, 28, 1)), rel=1e-6)


def test_bottlenecks_cut_inception_parameters_and_flops():
  """GoogLeNet (paper channel table) on 32x32x3, with and without the 1x1
  reduces."""
  out = {}
  for bottleneck in (True, False):
    model = build_model(cfg(name='inception', bottleneck=bottleneck), 10,
                        IMAGE32)
    out[bottleneck] = (count_params(trace(model, IMAGE32)[0])['trainable'],
                       flops(model, IMAGE32))
  assert out[False][0] > 3 * out[True][0]
  assert out[False][1] > 3 * out[True][1]


def test_layer_order_holds_batch_norm_layers_for_gradient_norms():
  """Diagnostics log a gradient norm for every module with parameters,
  BatchNorm's too: each must have its place in the network order."""
  from dlexp import analysis  # pylint: disable=g-import-not-at-top
  from dlexp.models import layer_order  # pylint: disable=g-import-not-at-top
  model = build_model(cfg(name='resnet', variant='resnet8', width_mult=0.25),
                      10, IMAGE32)
  order = layer_order(model, IMAGE32)
  assert order.index('stem') < order.index('stem_bn/BatchNorm_0') < (
      order.index('stem_act'))
  row = {f'diag/{name}/grad_norm': 1.0 for name in
         ('logits', 'stem_bn/BatchNorm_0', 'stem')}
  assert analysis.layer_names(row, order, 'grad_norm') == [
      'stem', 'stem_bn/BatchNorm_0', 'logits']
