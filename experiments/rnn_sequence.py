r"""Does a recurrent network's state carry memory across steps, and does it
use the order of the steps?

The notes (seed 004, theory group 5, "Recurrent Neural Networks"; label
'004 G5') answer "Describe the architecture and purpose of Recurrent Neural
Networks": "RNNs are neural networks with recurrent connections that allow
them to maintain a hidden state or memory. They are used for sequential data
processing, where the order of data points matters." This trains a GRU (two
stacked recurrent layers of 32 units; Adam at 0.01, batch 128) on 2,000
MNIST-1D training sequences (40 steps of one value, 10 classes, generated
offline; 400 validation, 1,000 test) for 40 epochs, 5 seeds per arm, the
parameters of the epoch with the lowest validation loss kept, in a 2 x 2
design:

- model.recurrent True / False: the intact GRU, or the same GRU with its
  recurrence cut (a zero state at every step, dlexp/models/rnn.py
  MemorylessCell): step t's output depends on input t alone, a per-step
  network with the same parameters. Both read out the same way, ALL 40
  steps' outputs flattened into the classifier (model.readout='all'), so
  the cut network still sees every value at its position and is not at
  chance by construction (reading the last step alone, it would see one
  value of 40): the contrast measures what the state carries across steps,
  not the readout;
- data.shuffle_steps False / True (the two parts, one table each): the
  sequences in their true order, or each sequence's steps in a random
  order of its own (values kept, order destroyed; fixed per example, the
  same in training, validation and test).

Which contrast answers which question:
- memory ("maintain a hidden state or memory"): intact against cut, in the
  true order;
- order ("where the order of data points matters"), a conjunction of two
  halves: (a) order matters in this data: the network WITHOUT recurrence
  loses accuracy when the steps are shuffled, so the order carries label
  information whatever model reads it; (b) the RNN uses it: the intact GRU
  loses accuracy when the steps are shuffled.
The notes' example ("beneficial in natural language processing tasks like
language translation") is not tested: no parallel corpus can be read here
(no download), and MNIST-1D is a synthetic sequence task, not language.

Every compared arm must train above chance in the true order and converge
(its validation loss passed its best at least 5 epochs before the end); a
shuffled arm must fit its own training sequences above chance (so its test
accuracy measures the order's loss, not a failed optimization) and is kept
even where it ends at chance on validation (that is what losing the order
can do). Margins: 0.02 test accuracy (see MARGIN).

Columns: val acc, test acc, train acc (the training sequences in inference
mode), best epoch (of the lowest validation loss), after best (epochs
trained after it), wall s.

  python experiments/rnn_sequence.py                      # defaults below
  python experiments/rnn_sequence.py --cells=gru,lstm
  python experiments/rnn_sequence.py --orders=true        # memory only
  python experiments/rnn_sequence.py --full               # GPU/TPU size

From Python: `run(size='smoke')` (keywords as the flags above).
"""
from typing import Optional, Sequence

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import DlexpError

TRUE_ORDER, SHUFFLED = 'true order', 'shuffled steps'
_ORDERS = {'true': TRUE_ORDER, 'shuffled': SHUFFLED}

SCRIPT = cli.define_flags(
    'rnn_sequence', model='gru', epochs=40, seeds=5, dataset='mnist1d',
    config={'optimizer.name': 'adam', 'optimizer.learning_rate': 0.01,
            'model.hidden': (32, 32), 'model.readout': 'all',
            'data.train_limit': 2000, 'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'config.model.hidden': (8,),
           'config.data.train_limit': 256, 'config.data.test_limit': 256},
    full={'epochs': 150, 'seeds': 10, 'cells': ['gru', 'lstm'],
          'config.data.train_limit': 0})
_CELLS = SCRIPT.list_flag('cells', ['gru'],
                          'Recurrent cells (config.model.name).')
_ORDER_FLAG = SCRIPT.list_flag(
    'orders', ['true', 'shuffled'],
    'Step orders, one part each: true (as generated) and shuffled '
    '(data.shuffle_steps: each sequence\'s steps in its own random order).')


def _after_best(run):
  ran, best = run.final('epochs_run'), run.final('best_epoch')
  return None if ran is None or best is None else ran - best


VAL = report.final('val_accuracy', 'val acc')
TEST = report.final('test_accuracy', 'test acc')
TRAIN = report.final('clean_train_accuracy', 'train acc')
AFTER_BEST = report.Column('after best', _after_best, '.1f')
COLUMNS = (VAL, TEST, TRAIN, report.default_column('best epoch'), AFTER_BEST,
           report.default_column('wall s'))

CHANCE = 0.1  # MNIST-1D's 10 classes
# 0.02 test accuracy (20 of MNIST-1D's 1,000 test sequences), about one
# arm's seed-to-seed standard deviation here (0.01 to 0.02): memory or order
# worth less than that would be no reason to prefer a recurrent network.
MARGIN = 0.02
INTACT, CUT = True, False
_ARM_NAMES = {INTACT: 'intact', CUT: 'recurrence cut'}


# -- reading the grid (rules read the table, never the flags) -----------------
def _cells(ev: claims.Evidence):
  cells = [c for c in ('gru', 'lstm') if ev.find(name=c) is not None]
  if not cells:
    raise claims.MissingTrial('no lstm or gru trial in this grid')
  return cells


def _arm(pev, order: str, cell: str, recurrent: bool, column,
         keep_collapsed: bool = False) -> claims.Sample:
  ev = pev.part(order)
  trial = ev.trial(name=cell, recurrent=recurrent)
  return ev.sample(trial, column, f'{cell} {_ARM_NAMES[recurrent]}, '
                   f'{order}', keep_collapsed=keep_collapsed)


def _shuffled(pev, cell: str, recurrent: bool) -> claims.Sample:
  """A shuffled arm's test accuracy, seeds at chance kept: ending at
  chance is what losing the order can do (its fit of the training
  sequences is a checked precondition)."""
  return _arm(pev, SHUFFLED, cell, recurrent, TEST, keep_collapsed=True)


# -- rules --------------------------------------------------------------------
def _memory(pev: claims.PartEvidence) -> claims.Verdict:
  return claims.across([
      (cell, claims.greater(_arm(pev, TRUE_ORDER, cell, INTACT, TEST),
                            _arm(pev, TRUE_ORDER, cell, CUT, TEST),
                            margin=MARGIN, what='test accuracy'))
      for cell in _cells(pev.part(TRUE_ORDER))], 'all')


def _order(pev: claims.PartEvidence) -> claims.Verdict:
  cases = []
  for cell in _cells(pev.part(TRUE_ORDER)):
    halves = [
        ('(a) order matters in this data: recurrence cut, true order > '
         'shuffled', claims.greater(
             _arm(pev, TRUE_ORDER, cell, CUT, TEST), _shuffled(pev, cell, CUT),
             margin=MARGIN, what='test accuracy')),
        ('(b) the RNN uses it: intact, true order > shuffled',
         claims.greater(_arm(pev, TRUE_ORDER, cell, INTACT, TEST),
                        _shuffled(pev, cell, INTACT), margin=MARGIN,
                        what='test accuracy'))]
    cases.append((cell, claims.across(halves, 'and')))
  return claims.across(cases, 'all')


# -- preconditions, over the grid's cells -------------------------------------
def _lowest(order: str, recurrent: bool, column, keep_collapsed=False):
  """The lowest mean of `column` over the cells for one arm (nan: an arm
  with no value)."""
  def get(pev):
    means = []
    for cell in _cells(pev.part(TRUE_ORDER)):
      values = _arm(pev, order, cell, recurrent, column,
                    keep_collapsed).values
      means.append(float(values.mean()) if values.size else float('nan'))
    return float('nan') if any(m != m for m in means) else min(means)
  return get


def _learns(recurrent: bool):
  name = _ARM_NAMES[recurrent]
  return (
      claims.requires(f'{name}, true order, trains above chance: val acc '
                      '(lowest over the cells)',
                      _lowest(TRUE_ORDER, recurrent, VAL), '>=',
                      CHANCE + 0.1),
      claims.requires(f'{name}, true order, converged: epochs trained after '
                      'its best validation loss (fewest over the cells)',
                      _lowest(TRUE_ORDER, recurrent, AFTER_BEST), '>=', 5))


def _fits_shuffled(recurrent: bool):
  name = _ARM_NAMES[recurrent]
  return (
      claims.requires(f'{name}, shuffled steps, fits its training sequences '
                      'above chance (train acc, lowest over the cells, seeds '
                      'at chance kept): its optimization worked',
                      _lowest(SHUFFLED, recurrent, TRAIN, True), '>=',
                      CHANCE + 0.1),
      claims.requires(f'{name}, shuffled steps, converged: epochs trained '
                      'after its best validation loss (fewest over the '
                      'cells)', _lowest(SHUFFLED, recurrent, AFTER_BEST,
                                         True), '>=', 5))


PROXY = ('proxy: MNIST-1D (40 steps of one value, 10 classes; 2,000 '
         'training sequences by default), a synthetic sequence task, not '
         'language')
CLAIMS = (
    claims.Claim(
        '004 G5', 'RNNs are neural networks with recurrent connections that '
        'allow them to maintain a hidden state or memory',
        tested_as='that the recurrent state carries information across '
        'steps: test accuracy of the GRU (two layers of 32) against the same '
        'GRU with its recurrence cut (a zero state at every step: a per-step '
        'network with the same parameters, its recurrent kernels unused), '
        'both reading all 40 steps\' '
        'outputs flattened, so the cut network sees every value at its '
        'position and is not at chance by its readout (a checked '
        'precondition), sequences in their true order, per cell, margin '
        f'0.02; {PROXY}',
        rule=_memory, regime=_learns(INTACT) + _learns(CUT)),
    claims.Claim(
        '004 G5', 'They are used for sequential data processing, where the '
        'order of data points matters',
        tested_as='both halves, per cell: (a) order matters in this data: '
        'the GRU with its recurrence cut (no memory; reads every step at its '
        'position) loses test accuracy when each sequence\'s steps are '
        'shuffled by a permutation of its own (values kept, order '
        'destroyed), and (b) the RNN uses the order: the intact GRU loses '
        'test accuracy under the same shuffling; each true order > shuffled '
        'by margin 0.02, shuffled seeds at chance kept (their fit of the '
        'training sequences is a checked precondition); "used for" itself '
        f'(practice) is not measurable; {PROXY}',
        rule=_order, regime=(_learns(INTACT) + _learns(CUT)
                             + _fits_shuffled(INTACT) + _fits_shuffled(CUT))),
)


def _parts(cells: Sequence[str], orders: Sequence[str]):
  for c in cells:
    if c not in ('lstm', 'gru'):
      raise DlexpError(f'--cells: {c!r} not allowed; allowed: lstm, gru')
  unknown = [o for o in orders if o not in _ORDERS]
  if unknown or not orders or not cells:
    raise DlexpError(f'--orders={",".join(orders)} not allowed; '
                     'allowed: true, shuffled (at least one), with at least '
                     'one of --cells')
  axes = {'model.name': list(cells), 'model.recurrent': [INTACT, CUT]}
  return [ablation.Part(_ORDERS[o], axes, COLUMNS,
                        settings={'data.shuffle_steps': o == 'shuffled'},
                        final_hooks=[analysis.clean_train_accuracy_hook()])
          for o in dict.fromkeys(orders)]


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, cells: Optional[Sequence[str]] = None,
        orders: Optional[Sequence[str]] = None,
        session=None) -> ablation.Result:
  """Trains each cell intact and with its recurrence cut, on every step
  order, and decides the claims. From Python: `run(size='smoke')`, or
  `run(config, 'runs/mine', cells=['lstm'], orders=['true'])`; the
  keywords are the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  if 'model.name' in session.given:
    raise DlexpError(f'{session.given["model.name"]}: this script trains '
                     'the models of --cells')
  cells = cli.list_flag(SCRIPT.axis('cells', session.size) if cells is None
                        else cells, str, 'cells')
  orders = cli.list_flag(SCRIPT.axis('orders', session.size) if orders is None
                         else orders, str, 'orders')
  parts = _parts(cells, orders)
  # The run line names the first cell; every trial sets model.name.
  config.model.name = cells[0]
  return ablation.run_parts(
      session, parts, config,
      title='Memory and order in a recurrent network '
      f'({", ".join(c.upper() for c in cells)}, MNIST-1D)',
      axis_flags={'model.name': 'cells', 'data.shuffle_steps': 'orders'},
      claims=CLAIMS, plots=('val_accuracy', 'train_loss'))


def main(_):
  run(cli.resolved_config(), cells=_CELLS.value, orders=_ORDER_FLAG.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
