"""Fabricated tables for experiments/vanishing_gradients.py: the plain
20-layer nets, five seeds, numbers of the size the default run gives."""
from dlexp import claims

TEST, RATIO, LAYERS = 'test acc', 'log10 L1/Ln @init', 'layers'


def _around(mean, spread):
  return [round(mean + spread * d, 4) for d in (0.0, 0.8, -0.6, 0.4, -1.0)]


BASE = {
    'activation=sigmoid': {TEST: [0.1] * 5, RATIO: _around(-11.27, 0.05)},
    'activation=tanh': {TEST: _around(0.813, 0.007), RATIO: _around(0.38, 0.17)},
    'activation=relu': {TEST: _around(0.776, 0.012), RATIO: _around(0.23, 0.3)},
    'activation=elu': {TEST: _around(0.790, 0.012), RATIO: _around(0.27, 0.12)},
    'activation=selu': {TEST: _around(0.813, 0.002), RATIO: _around(0.49, 0.07)},
}
STATUS = {'activation=sigmoid': ['collapsed'] * 5}


def grid(changes=None, status=None, layers=20):
  table = {t: dict(c, **{LAYERS: [layers] * 5}) for t, c in BASE.items()}
  for trial, cols in (changes or {}).items():
    table[trial].update(cols)
  return claims.fabricate(table, status=STATUS if status is None else status)


AT_CHANCE = [0.1] * 5
# Sigmoid's gradient does not vanish and it trains like the others.
SIGMOID_FINE = {'activation=sigmoid': {TEST: _around(0.80, 0.01),
                                       RATIO: _around(-0.41, 0.04)}}
CASES = {
    # Existence: sigmoid's gradients vanish and its seeds collapse (5/5 vs
    # 0/5); not shown when sigmoid trains with a healthy gradient.
    0: {'supported': grid(),
        'contradicted': grid(SIGMOID_FINE, status={}),
        'regime': grid(layers=6)},
    # ReLU's first/last gradient ratio is closer to 1 (|log10|) than
    # sigmoid's and tanh's (tanh's first layer amplified 30x), or about as
    # close as both.
    1: {'supported': grid({'activation=tanh': {RATIO: _around(1.5, 0.1)}}),
        'contradicted': grid({'activation=sigmoid': {
            RATIO: _around(0.25, 0.1)}, 'activation=tanh': {
                RATIO: _around(0.30, 0.1)}}),
        'regime': grid(layers=6)},
    # ELU's gradient flows and it trains as well as ReLU; or it trains
    # three points worse with a first layer starved of gradient.
    2: {'supported': grid(),
        'contradicted': grid({'activation=elu': {
            TEST: _around(0.74, 0.01), RATIO: _around(-1.6, 0.1)}}),
        'regime': grid(SIGMOID_FINE, status={})},
    # ReLU against sigmoid (004 G1): sigmoid's gradient vanishes and its
    # seeds collapse; or sigmoid's flows as well and it trains.
    3: {'supported': grid(),
        'contradicted': grid({'activation=sigmoid': {
            TEST: _around(0.80, 0.01), RATIO: _around(-0.1, 0.05)},
            'activation=relu': {RATIO: _around(1.5, 0.1)}}, status={}),
        'regime': grid(layers=6)},
}
