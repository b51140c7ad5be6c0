r"""Does dropout help a recurrent network, and does it matter whether the
mask changes at every time step or stays fixed for the whole sequence?

The notes (seed 001, question 6) say dropout is "Not Always Suitable for
RNNs: Dropout between time steps ... can disrupt the temporal flow of data,
which is why methods like variational dropout are often used in RNNs", and
that variational dropout "applies the same dropout mask across time steps,
preserving temporal correlations while still regularizing the model". This
trains a GRU (two stacked recurrent layers of 32 units, a linear
classifier on the last step; Adam at 0.01) on 1,000 MNIST-1D training
sequences (40 steps of ONE value, 10 classes) for 150 epochs, keeping the
last epoch's parameters (no early stopping: it would regularize too), 5
seeds each, with:

- dropout_rate=0: no dropout. It fits the 1,000 sequences (train accuracy
  ~1) and overfits (train - val gap ~0.1): the regime dropout is for, a
  checked precondition;
- dropout=standard: a fresh mask at every time step on the first layer's
  outputs (the second layer's input) and on the last step's features
  (Zaremba et al. 2014's dropout of the non-recurrent connections); the
  recurrent state is never masked. A control, in no claim: what per-step
  masks do without the recurrent one;
- dropout=per_step_recurrent: the notes' "dropout between time steps": a
  fresh mask at every time step on the same non-recurrent connections
  (as 'standard') and on the state h fed back into each cell, the key split
  once per step inside the scan;
- dropout=variational: Gal & Ghahramani (2016): one mask per sequence on
  the same connections, state h included. It differs from
  per_step_recurrent only in tying each mask across time;
- dropout=locked (with --variants=...,locked): one mask per sequence on
  the non-recurrent connections only, to tell apart what the recurrent mask
  adds.

The claims compare arms that trained above chance and converged (their
validation loss passed its best at least 5 epochs before the end), both
checked. With the previous default (3,600 sequences, 15 epochs at 0.003)
no model had converged, and variational dropout looked far worse than
per-step dropout ('standard'); trained to convergence it is the best arm.
At the default, the GRU's mean test accuracy over 5 seeds was 0.928 without
dropout, 0.942 standard, 0.955 per_step_recurrent and 0.964 variational (a
fresh mask per step on h did not hurt this GRU; tying it helped more); the
default took 5.5 minutes on 2 shared CPU cores. --cells=gru,lstm adds the
LSTM (the claims then need every cell): its arms converge more slowly, its
variational arm not within 150 epochs at this size (it was still improving
at epoch 150 in a 2-seed trial), and both cells at 5 seeds would take the
default past 10 minutes on 2 CPU cores; --full trains both for 400 epochs.
--smoke trains no dropout, per_step_recurrent and variational.

The input itself is not dropped (model.rnn_input_dropout=False): with one
channel, a per-sequence mask would blank whole training sequences, and a
per-step one a quarter of the signal; --config.model.rnn_input_dropout=True
puts it back (for inputs with many features, e.g. --dataset=fashion_mnist).

Columns: val acc, test acc, train acc (the training sequences in
inference mode), gap = train acc - val acc (the overfitting dropout should
shrink), best epoch (of the lowest validation loss) and after best (epochs
trained after it), all of the last epoch's parameters; recurrent mask, from
the run's config: how the arm masks the recurrent state h (0 not at all,
1 one mask per sequence: variational, 2 a fresh mask at every step:
per_step_recurrent); the claims about dropout BETWEEN time steps check that
their per-step arm masks h per step.

  python experiments/rnn_dropout.py                       # defaults below
  python experiments/rnn_dropout.py --rate=0.5 \
      --variants=standard,locked,per_step_recurrent,variational
  python experiments/rnn_dropout.py --cells=lstm --config.model.hidden="(128,128)"
  python experiments/rnn_dropout.py --dataset=fashion_mnist --epochs=5 \
      --config.data.train_limit=10000     # images read row by row

From Python: `run(size='smoke')` (keywords as the flags above).
"""
from typing import Optional, Sequence

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import DlexpError
from dlexp.layers.dropout import STATE_DROPOUT

SCRIPT = cli.define_flags(
    'rnn_dropout', model='lstm', epochs=150, seeds=5, dataset='mnist1d',
    config={'optimizer.name': 'adam', 'optimizer.learning_rate': 0.01,
            'model.hidden': (32, 32), 'model.rnn_input_dropout': False,
            'data.train_limit': 1000, 'early_stopping.restore_best': False,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'cells': ['lstm'],
           'variants': ['per_step_recurrent', 'variational'],
           'config.model.hidden': (8, 8), 'config.data.train_limit': 512,
           'config.data.test_limit': 500},
    full={'epochs': 400, 'seeds': 10, 'cells': ['gru', 'lstm'],
          'variants': ['standard', 'locked', 'per_step_recurrent',
                       'variational']})
_CELLS = SCRIPT.list_flag('cells', ['gru'],
                          'Recurrent models (config.model.name).')
_VARIANTS = SCRIPT.list_flag(
    'variants', ['standard', 'per_step_recurrent', 'variational'],
    'Dropout variants at --rate (config.model.dropout); no dropout is '
    'always trained as the reference.')
_RATE = SCRIPT.flag('float', 'rate', 0.25, 'Dropout rate of every variant '
                    '(config.model.dropout_rate).')


def _gap(run):
  train, val = run.final('clean_train_accuracy'), run.final('val_accuracy')
  return None if train is None or val is None else train - val


def _after_best(run):
  ran, best = run.final('epochs_run'), run.final('best_epoch')
  return None if ran is None or best is None else ran - best


VAL = report.final('val_accuracy', 'val acc')
TEST = report.final('test_accuracy', 'test acc')
GAP = report.Column('gap', _gap, '.4f')
AFTER_BEST = report.Column('after best', _after_best, '.1f')

# How each dropout variant masks the recurrent state h (dlexp/models/rnn.py,
# STATE_DROPOUT): 'variational' once per sequence, 'per_step_recurrent' with
# a fresh mask at every step, the others not at all.
NO_MASK, PER_SEQUENCE, PER_STEP_MASK = 0.0, 1.0, 2.0
_STATE_MASK = {variant: {'sequence': PER_SEQUENCE, 'step': PER_STEP_MASK}[how]
               for variant, how in STATE_DROPOUT.items()}


def _recurrent_mask(run):
  """0: h not masked; 1: one mask per sequence; 2: a fresh mask per step
  (read from the run's config)."""
  config = run.config.get('config', {})
  if not config.get('model.dropout_rate'):
    return NO_MASK
  return _STATE_MASK.get(config.get('model.dropout'), NO_MASK)


RECURRENT_MASK = report.Column('recurrent mask', _recurrent_mask, '.0f',
                               spread=False, exact=True)
COLUMNS = (
    VAL, TEST, report.final('clean_train_accuracy', 'train acc'), GAP,
    report.default_column('best epoch'), AFTER_BEST, RECURRENT_MASK,
    report.default_column('wall s'))

CHANCE = 0.1  # MNIST-1D's 10 classes
NONE, PER_STEP, VARIATIONAL = 'none', 'per_step_recurrent', 'variational'
_ARM_NAMES = {NONE: 'no dropout',
              PER_STEP: 'a fresh mask per step (h included)',
              VARIATIONAL: 'variational'}


# -- reading the grid (rules read the table, never the flags) ------------------
def _axes(ev: claims.Evidence, trial: str):
  return {k.split('.')[-1]: v
          for k, v in ev.table[trial].get('overrides', {}).items()}


def _rate(ev: claims.Evidence) -> float:
  rates = {float(_axes(ev, t).get('dropout_rate', 0.0))
           for t in ev.trials} - {0.0}
  if len(rates) != 1:
    raise claims.MissingTrial('no single dropout rate above 0 in this grid')
  return rates.pop()


def _cells(ev: claims.Evidence):
  cells = [c for c in ('gru', 'lstm') if ev.find(name=c) is not None]
  if not cells:
    raise claims.MissingTrial('no lstm or gru trial in this grid')
  return cells


def _trial(ev, cell: str, arm: str) -> str:
  if arm == NONE:
    return ev.trial(name=cell, dropout_rate=0.0)
  return ev.trial(name=cell, dropout=arm, dropout_rate=_rate(ev))


def _arm(ev, cell, arm, column) -> claims.Sample:
  return ev.sample(_trial(ev, cell, arm), column,
                   f'{cell} {_ARM_NAMES[arm]}')


# -- rules ----------------------------------------------------------------------
def _per_step_disrupts(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([
      (cell, claims.less(_arm(ev, cell, PER_STEP, TEST),
                         _arm(ev, cell, NONE, TEST), margin=0.005,
                         what=f'test accuracy at rate {_rate(ev):g}'))
      for cell in _cells(ev)], 'any')


def _variational_better(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([
      (cell, claims.greater(_arm(ev, cell, VARIATIONAL, TEST),
                            _arm(ev, cell, PER_STEP, TEST), margin=0.005,
                            what=f'test accuracy at rate {_rate(ev):g}'))
      for cell in _cells(ev)], 'all')


def _still_regularizes(ev: claims.Evidence) -> claims.Verdict:
  cases = []
  for cell in _cells(ev):
    verdict = claims.less(
        _arm(ev, cell, VARIATIONAL, GAP), _arm(ev, cell, NONE, GAP),
        margin=0.01, what='train - val accuracy gap')
    cases.append((cell, verdict.with_note(
        'test accuracy '
        f'{claims.describe(_arm(ev, cell, VARIATIONAL, TEST).values)} vs '
        f'{claims.describe(_arm(ev, cell, NONE, TEST).values)}')))
  return claims.across(cases, 'all')


# -- preconditions, over the grid's cells ---------------------------------------
def _worst(arm: str, column, pick) -> callable:
  """The lowest (pick=min) mean of `column` over the cells for `arm`."""
  def get(ev):
    means = []
    for cell in _cells(ev):
      values = _arm(ev, cell, arm, column).values
      means.append(float(values.mean()) if values.size else float('nan'))
    return (float('nan') if any(m != m for m in means)  # nan: no value
            else pick(means))
  return get


def _mask_of(arm: str, pick) -> callable:
  """The per-cell recurrent mask of `arm`, picked over the cells (every
  seed: it is the design, not an outcome)."""
  def get(ev):
    values = [v for cell in _cells(ev)
              for v in ev.column(_trial(ev, cell, arm), RECURRENT_MASK)
              if v is not None]
    return pick(values) if values else float('nan')
  return get


# The claims about dropout BETWEEN time steps need an arm that masks the
# recurrent state h with a fresh mask at every step (per_step_recurrent;
# 'standard' masks only the non-recurrent connections, 0).
PER_STEP_ON_STATE = claims.requires(
    'the per-step arm masks the recurrent state h with a fresh mask at '
    'every step (recurrent mask 2)',
    _mask_of(PER_STEP, min), '>=', PER_STEP_MASK)
SAME_CONNECTIONS = (
    PER_STEP_ON_STATE,
    claims.requires('the variational arm masks the recurrent state h '
                    '(recurrent mask >= 1), so both arms mask the same '
                    'connections and differ only in tying the mask',
                    _mask_of(VARIATIONAL, min), '>=', PER_SEQUENCE),
)


def _regime(*arms: str, overfits: bool = False):
  out = []
  if overfits:
    out.append(claims.requires(
        'the baseline overfits: train - val accuracy gap without dropout '
        '(smallest over the cells)', _worst(NONE, GAP, min), '>=', 0.05))
  for arm in arms:
    name = _ARM_NAMES[arm]
    out.append(claims.requires(
        f'{name} trains above chance: val acc (lowest over the cells)',
        _worst(arm, VAL, min), '>=', CHANCE + 0.1))
    out.append(claims.requires(
        f'{name} converged: epochs trained after its best validation loss '
        '(fewest over the cells)', _worst(arm, AFTER_BEST, min), '>=', 5))
  return tuple(out)


CLAIMS = (
    claims.Claim(
        '001 Q6', 'Not Always Suitable for RNNs: Dropout between time steps '
        'in Recurrent Neural Networks (RNNs) can disrupt the temporal flow '
        'of data',
        tested_as='dropout between time steps read as a fresh mask at '
        'every step on the recurrent state h and on the non-recurrent '
        'connections (model.dropout=per_step_recurrent; its mask on h per '
        'step a checked precondition): test accuracy of that arm against '
        'no dropout, per cell (a GRU by default; 1,000 MNIST-1D sequences), '
        'margin 0.005; an existence claim ("can"): a cell where it does not '
        'happen does not refute it',
        rule=_per_step_disrupts, existence=True,
        regime=(PER_STEP_ON_STATE,) + _regime(NONE, PER_STEP)),
    claims.Claim(
        '001 Q6', 'which is why methods like variational dropout are often '
        'used in RNNs',
        tested_as='the reason given, as a comparison ("often used" itself '
        'is not measurable here): variational dropout (one mask per '
        'sequence) against a fresh mask per step (per_step_recurrent) at '
        'the same rate and on the SAME connections, recurrent state h '
        'included (a checked precondition), so the arms differ only in '
        'tying the mask across time; test accuracy, per cell, margin 0.005',
        rule=_variational_better,
        regime=SAME_CONNECTIONS + _regime(PER_STEP, VARIATIONAL)),
    claims.Claim(
        '001 Q6', 'Variational Dropout: A variant used in RNNs that applies '
        'the same dropout mask across time steps, ... while still '
        'regularizing the model',
        tested_as='"still regularizing" only: the train - val accuracy gap '
        'with variational dropout against none, per cell, where the '
        'baseline overfits (a checked precondition), a reduction under 0.01 '
        'counting as none; the same mask across time steps is a unit test of '
        'the implementation (tests/test_dropout.py::'
        'test_variational_mask_is_shared_across_time), not measured here',
        rule=_still_regularizes,
        regime=_regime(VARIATIONAL, overfits=True)),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, cells: Optional[Sequence[str]] = None,
        variants: Optional[Sequence[str]] = None,
        rate: Optional[float] = None, session=None) -> ablation.Result:
  """Trains each cell without dropout and with every variant at `rate`,
  and decides the claims. From Python: `run(size='smoke')`, or
  `run(config, 'runs/mine', cells=['gru'], rate=0.5)`; the keywords are
  the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  if 'model.name' in session.given:
    raise DlexpError(f'{session.given["model.name"]}: this script trains '
                     'the models of --cells')
  cells = cli.list_flag(SCRIPT.axis('cells', session.size) if cells is None
                        else cells, str, 'cells')
  variants = cli.list_flag(SCRIPT.axis('variants', session.size)
                           if variants is None else variants, str, 'variants')
  rate = SCRIPT.axis('rate', session.size) if rate is None else rate
  for c in cells:
    if c not in ('lstm', 'gru'):
      raise DlexpError(f'--cells: {c!r} not allowed; allowed: lstm, gru')
  if not cells or not variants:
    raise DlexpError('--cells and --variants need at least one value each')
  if not 0 < rate < 1:
    raise DlexpError(f'--rate={rate} not allowed; need 0 < rate < 1')
  # The run line names the first cell (it said the flag default, lstm,
  # above GRU trials); the title names them all. Every trial sets
  # model.name, so nothing trained changes.
  config.model.name = cells[0]
  grids = [{'model.name': cells, 'model.dropout': ['standard'],
            'model.dropout_rate': [0.0]},
           {'model.name': cells, 'model.dropout': variants,
            'model.dropout_rate': [rate]}]
  return ablation.run_ablation(
      session, grids, config, COLUMNS,
      title='Dropout in recurrent networks '
      f'({", ".join(c.upper() for c in cells)})',
      final_hooks=[analysis.clean_train_accuracy_hook()],
      axis_flags={'model.name': 'cells', 'model.dropout': 'variants',
                  'model.dropout_rate': 'rate'},
      claims=CLAIMS, plots=('val_accuracy', 'train_loss'))


def main(_):
  run(cli.resolved_config(), cells=_CELLS.value, variants=_VARIANTS.value,
      rate=_RATE.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
