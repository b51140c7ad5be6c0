r"""Does dropout help a recurrent network, and does it matter whether the
mask changes at every time step or stays fixed for the whole sequence?

The notes (seed 001, question 6; seed 004, group 5) say dropout is "not
always suitable for RNNs: dropout between time steps ... can disrupt the
temporal flow of data, which is why methods like variational dropout are
often used", variational dropout "applies the same dropout mask across time
steps, preserving temporal correlations while still regularizing the
model". This trains an LSTM and a GRU (two stacked recurrent layers of 32
units, a linear classifier on the last step; Adam) on MNIST-1D (4,000
sequences of 40 steps of ONE value, 10 classes) with:

- dropout_rate=0: no dropout;
- dropout=standard: a fresh mask at every time step on the first layer's
  outputs (the second layer's input) and on the last step's features
  (Zaremba et al. 2014's dropout of the non-recurrent connections); the
  recurrent state is never masked;
- dropout=variational: Gal & Ghahramani (2016): one mask per sequence on
  the same connections, and one on the state h fed back into each cell at
  every step;
- dropout=locked (with --variants=...,locked): one mask per sequence on
  the non-recurrent connections only, to tell apart what the recurrent mask
  adds.

The input itself is not dropped (model.rnn_input_dropout=False): with one
channel, a per-sequence mask would blank whole training sequences, and a
per-step one a quarter of the signal; --config.model.rnn_input_dropout=True
puts it back (for inputs with many features, e.g. --dataset=fashion_mnist).

Columns: val acc, test acc (restored best epoch), train acc (a fixed 10,000
training sequences, or all of them, in inference mode), gap = train acc -
val acc (the overfitting dropout should shrink), best epoch.

  python experiments/rnn_dropout.py                       # defaults below
  python experiments/rnn_dropout.py --rate=0.5 --variants=standard,locked,variational
  python experiments/rnn_dropout.py --cells=lstm --config.model.hidden="(128,128)"
  python experiments/rnn_dropout.py --dataset=fashion_mnist --epochs=5 \
      --config.data.train_limit=10000     # images read row by row
"""
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import DlexpError

_CELLS = flags.DEFINE_list('cells', ['lstm', 'gru'],
                           'Recurrent models (config.model.name).')
_VARIANTS = flags.DEFINE_list(
    'variants', ['standard', 'variational'],
    'Dropout variants at --rate (config.model.dropout); no dropout is '
    'always trained as the reference.')
_RATE = flags.DEFINE_float('rate', 0.25, 'Dropout rate of every variant '
                           '(config.model.dropout_rate).')

cli.define_flags(
    'rnn_dropout', model='lstm', epochs=15, seeds=3, dataset='mnist1d',
    config={'optimizer.name': 'adam', 'optimizer.learning_rate': 3e-3,
            'model.hidden': (32, 32), 'model.rnn_input_dropout': False,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'cells': ['lstm'],
           'config.model.hidden': (8, 8), 'config.data.train_limit': 1024,
           'config.data.test_limit': 500},
    full={'epochs': 60, 'seeds': 5, 'config.model.hidden': (128, 128),
          'variants': ['standard', 'locked', 'variational']})


def _gap(run):
  train, val = run.final('clean_train_accuracy'), run.final('val_accuracy')
  return None if train is None or val is None else train - val


_GAP = report.Column('gap', _gap, '.4f')
COLUMNS = (
    report.final('val_accuracy', 'val acc'),
    report.final('test_accuracy', 'test acc'),
    report.final('clean_train_accuracy', 'train acc'),
    _GAP,
    report.DEFAULT_COLUMNS[2], report.DEFAULT_COLUMNS[3])


def _rate(ev: claims.Evidence) -> float:
  rates = {(ev.groups[t][0].config.get('overrides') or {}).get(
      'model.dropout_rate') for t in ev.trials} - {None, 0.0}
  if len(rates) != 1:
    raise KeyError('no single dropout rate > 0 in this grid')
  return rates.pop()


def _cells(ev: claims.Evidence):
  cells = [c for c in ('lstm', 'gru') if ev.trial(name=c)]
  if not cells:
    raise KeyError('no lstm or gru trial')
  return cells


def _pick(ev, cell, variant, rate) -> str:
  trial = ev.trial(name=cell, dropout=variant, dropout_rate=rate)
  if trial is None:
    raise KeyError(f'no {cell} trial with dropout {variant} at {rate:g}')
  return trial


def _per_cell(ev, check):
  """Combines one comparison per cell: all supported -> supported, some ->
  depends (on the cell), any contradicted and none supported ->
  contradicted."""
  return claims.across([check(cell) for cell in _cells(ev)], 'cell')


def _variational_better(ev: claims.Evidence) -> claims.Verdict:
  rate = _rate(ev)
  return _per_cell(ev, lambda cell: claims.compare(
      ev.values(_pick(ev, cell, 'variational', rate), 'test_accuracy'),
      ev.values(_pick(ev, cell, 'standard', rate), 'test_accuracy'),
      f'{cell} test accuracy at rate {rate:g}', 'variational (one mask per '
      'sequence, state masked)', 'standard (a mask per step)'))


def _still_regularizes(ev: claims.Evidence) -> claims.Verdict:
  rate = _rate(ev)

  def check(cell):
    none = _pick(ev, cell, 'standard', 0.0)
    var = _pick(ev, cell, 'variational', rate)
    v = claims.compare(ev.values(none, _GAP), ev.values(var, _GAP),
                       f'{cell} train - val accuracy gap', 'no dropout',
                       f'variational {rate:g}')
    return claims.Verdict(v.verdict, f'{v.evidence}; test accuracy '
                          f'{claims.describe(ev.values(var, "test_accuracy"))}'
                          f' vs {claims.describe(ev.values(none, "test_accuracy"))}')

  return _per_cell(ev, check)


def _standard_disrupts(ev: claims.Evidence) -> claims.Verdict:
  """Per-step dropout against none: 'supported' (it disrupts) when it is
  worse on the test set beyond the spread, contradicted when better."""
  rate = _rate(ev)
  return _per_cell(ev, lambda cell: claims.compare(
      ev.values(_pick(ev, cell, 'standard', 0.0), 'test_accuracy'),
      ev.values(_pick(ev, cell, 'standard', rate), 'test_accuracy'),
      f'{cell} test accuracy', 'no dropout', f'a fresh mask per step at '
      f'{rate:g}'))


CLAIMS = (
    claims.Claim('001 Q6', 'Not Always Suitable for RNNs: Dropout between '
                 'time steps ... can disrupt the temporal flow of data',
                 _standard_disrupts),
    claims.Claim('001 Q6', 'methods like variational dropout are often used '
                 'in RNNs', _variational_better),
    claims.Claim('001 Q6', 'Variational Dropout ... applies the same dropout '
                 'mask across time steps, preserving temporal correlations '
                 'while still regularizing the model', _still_regularizes),
)


def main(_):
  if flags.FLAGS['model'].present:
    raise DlexpError(f'--model={flags.FLAGS.model}: this script trains the '
                     'models of --cells')
  cells = _CELLS.value
  for c in cells:
    if c not in ('lstm', 'gru'):
      raise DlexpError(f'--cells: {c!r} not allowed; allowed: lstm, gru')
  if not cells or not _VARIANTS.value:
    raise DlexpError('--cells and --variants need at least one value each')
  if not 0 < _RATE.value < 1:
    raise DlexpError(f'--rate={_RATE.value} not allowed; need 0 < rate < 1')
  grids = [{'model.name': cells, 'model.dropout': ['standard'],
            'model.dropout_rate': [0.0]},
           {'model.name': cells, 'model.dropout': _VARIANTS.value,
            'model.dropout_rate': [_RATE.value]}]
  cli.run_ablation(grids, COLUMNS, title='Dropout in recurrent networks',
                   final_hooks=[analysis.clean_train_accuracy_hook()],
                   axis_flags={'model.name': 'cells',
                               'model.dropout': 'variants',
                               'model.dropout_rate': 'rate'},
                   claims=CLAIMS, plots=('val_accuracy', 'train_loss'))


if __name__ == '__main__':
  cli.run_main(main)
