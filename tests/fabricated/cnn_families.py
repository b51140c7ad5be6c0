"""Fabricated tables for experiments/cnn_families.py (MNIST-1D accuracies,
full-width CIFAR-shaped parameter and FLOP counts)."""
from dlexp import claims

TEST, PARAMS, GFLOPS = 'test acc', 'params @ref', 'GFLOPs @ref'


def _acc(mean, step=0.004):
  return [mean + step * d for d in (-2, -1, 0, 1, 2)]


def _pair(family, on_acc, off_acc, on_cost=1.0, off_cost=1.0,
          column=PARAMS):
  """Test accuracies over 5 seeds; `column` ('params @ref' or 'GFLOPs
  @ref') gets the costs, the other one equal costs on both sides."""
  rows = {}
  for switch, acc, cost in ((True, on_acc, on_cost), (False, off_acc,
                                                      off_cost)):
    row = {TEST: _acc(acc), PARAMS: [1e6] * 5, GFLOPS: [0.3] * 5}
    row[column] = [cost] * 5  # a count of the design: no spread
    rows[f'{family},{_SWITCH[family]}={switch}'] = row
  return claims.fabricate(rows, exact=(PARAMS, GFLOPS, column))


_SWITCH = {'alexnet': 'lrn', 'vgg11': 'stacked_3x3',
           'inception-mini': 'bottleneck'}

CASES = {
    0: {'supported': _pair('alexnet', 0.870, 0.850),
        'contradicted': _pair('alexnet', 0.830, 0.853),
        'regime': _pair('alexnet', 0.10, 0.11)},
    1: {'supported': _pair('vgg11', 0.835, 0.830, 9_750_922, 11_256_970,
                           PARAMS),
        'contradicted': _pair('vgg11', 0.780, 0.830, 12_500_000, 11_256_970,
                              PARAMS),
        'regime': _pair('vgg11', 0.105, 0.830, 9_750_922, 11_256_970,
                        PARAMS)},
    2: {'supported': _pair('inception-mini', 0.930, 0.922, 0.480, 1.257,
                           GFLOPS),
        'contradicted': _pair('inception-mini', 0.880, 0.922, 1.300, 1.257,
                              GFLOPS),
        'regime': _pair('inception-mini', 0.930, 0.10, 0.480, 1.257,
                        GFLOPS)},
}
