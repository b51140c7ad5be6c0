r"""Do L2 regularization and dropout mitigate overfitting, and does dropout
make a network rely less on specific neurons?

Seed 004, theory group 3 (overfitting: "Two techniques to mitigate
overfitting are: 1. Regularization: Techniques like L1 or L2 regularization
add penalty terms to the loss function, discouraging the model from
assigning excessively large weights to features. 2. Dropout: ...
preventing the network from relying too heavily on any one neuron or
feature") and group 10 (dropout: it "helps prevent overfitting by making
the model more robust. It reduces reliance on specific neurons and
encourages the network to learn redundant representations").

Design. A regime that overfits (the 000 Q2 design of dropout_rates.py): a
3x512 ReLU MLP on 2,000 Fashion-MNIST training images (2,000 validation,
the 10,000 test images), SGD with momentum 0.9 at 0.01, batch 128, 60
epochs, the LAST epoch's parameters kept (no early stopping, which is a
regularizer of its own, and no restored best epoch: every arm is judged
after the same 900 steps). One axis of three arms, each a joint setting,
chosen before any run:

- none: reg.l2=0, model.dropout_rate=0;
- L2: reg.l2=0.02 (--l2), no dropout. dlexp adds (l2 / 2) * sum w^2 over
  the kernels (not biases) to the loss, so the gradient gains l2 * w, a
  coupled weight decay through the momentum; 0.02 is the notes' own Keras
  example, `kernel_regularizer=regularizers.l2(0.01)` (004 K5), since Keras
  adds l2 * sum w^2. A 1e-4..1e-3 decay would shrink the kernels by under
  10% in these 900 steps (lr / (1 - momentum) * l2 * steps < 0.1);
- dropout: model.dropout_rate=0.5 (--rate), after each hidden layer
  (inverted dropout: off at inference), no penalty; 0.5 is Srivastava et
  al.'s rate for hidden units.

L1 is not an arm: the notes name no strength for it, and its zeros are
sparsity.py's question. Both values are traced, so all arms and seeds are
ONE compiled, vmapped program; 8 seeds each, the seeds as n.

Columns: train acc (inference mode, dropout off, on the 2,000 training
images), val acc, gap = train acc - val acc (the overfitting measure), test
acc; train Δ10 = the logged training accuracy (as trained, dropout on) at
the last epoch minus ten epochs before (a settled run: under 0.02); best
epoch (lowest validation loss, shown, not used); w1 RMS/init, w1 max/init:
the first hidden layer's kernel (the weights on the input features), its
RMS and its largest |w| over the same at the seed's initialization;
then unit ablation on the last hidden layer (dlexp.analysis.ablation, at
inference on the test images; units ranked on validation): top-1 drop, the
test accuracy lost by zeroing the most important unit; top-k drop and
random-k drop, by zeroing its k = 10% (--ablate_fraction; 51 of 512) most
important units, or random ones: 25% of the units (--random_fraction; 128
of 512, random k), mean of --ablate_draws draws; unit
mean drop and unit max drop over every single unit (the max is picked on
the test images: shown only).

The claims, each in its regime (checked): the unregularized net overfits
(gap >= 0.05), trains above chance, and every arm's training has settled.
- 004 G3 L2 and dropout each mitigate overfitting: a smaller gap (margin
  0.01) AND a test accuracy no worse (non-inferiority, margin 0.005): a gap
  shrunk by losing accuracy is underfitting, not mitigation. Seeds of a
  remedy that collapse to chance are kept (their failure is real);
- 004 G3 L2 discourages large weights: w1 RMS/init and w1 max/init both
  smaller than without (margin 0.1, a tenth of the initial scale);
- 004 G3 "relying too heavily on any one neuron", 004 G10 "reliance on
  specific neurons" and "redundant representations": the top-1, top-k and
  random-k drops of dropout's net smaller than of none's (margins 0.002,
  0.01 and 0.005 of test accuracy), where the two nets' test accuracies
  are matched (within 0.02) and none's net does rely on those units (its
  drop at least twice the margin). Only the last hidden layer is ablated
  (one outer product per unit, exact); the earlier layers are not tested.
Not a claim: "During inference, dropout is turned off, and the full network
is used" is an implementation fact, checked by unit tests
(tests/test_dropout.py::test_eval_is_identity_for_inverted_variants; the
compiled inference program with dropout layers equals the one without them,
tests/test_final_hooks.py::test_hooks_on_a_tiny_run, predict_same_program).

  python experiments/overfitting_remedies.py --dataset=fashion_mnist
  python experiments/overfitting_remedies.py --dataset=fashion_mnist \
      --l2=0.002 --rate=0.3 --seeds=10
  python experiments/overfitting_remedies.py --full   # GPU/TPU: 10 seeds

From Python: `run(size='smoke')`, or `run(config, workdir, l2=0.002)`.

--l2 and --rate set the arms; --config.reg.l2 and --config.model.dropout_rate
are the axis and are refused.
"""
import math
from typing import Optional

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import DlexpError

SCRIPT = cli.define_flags(
    'overfitting_remedies', model='mlp', epochs=60, seeds=8,
    config={'model.depth': 3, 'model.width': 512,
            'data.train_limit': 2000, 'data.val_size': 2000,
            'early_stopping.restore_best': False,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'config.model.depth': 2,
           'config.model.width': 32, 'config.data.train_limit': 512,
           'config.data.val_size': 500, 'config.data.test_limit': 1000},
    full={'seeds': 10})
_L2 = SCRIPT.flag('float', 'l2', 0.02, 'reg.l2 of the L2 arm (dlexp adds '
                  '(l2 / 2) * sum w^2; Keras l2(0.01) is 0.02).')
_RATE = SCRIPT.flag('float', 'rate', 0.5, 'model.dropout_rate of the dropout '
                    'arm.')
_FRACTION = SCRIPT.flag(
    'float', 'ablate_fraction', 0.1, 'Share of the last hidden layer\'s '
    'units zeroed together in the top-k ablation.')
_RANDOM_FRACTION = SCRIPT.flag(
    'float', 'random_fraction', 0.25, 'Share of the last hidden layer\'s '
    'units zeroed together in the random-k ablation (the redundancy claim: '
    'a random 10% cost the plain net half a point, too little to show a '
    'reduction).')
_DRAWS = SCRIPT.flag('integer', 'ablate_draws', 10,
                     'Random draws of the random-k ablation.')

SETTLE_EPOCHS = 10  # the window of the settled check


def _gap(run):
  train, val = run.final('clean_train_accuracy'), run.final('val_accuracy')
  return None if train is None or val is None else train - val


def _settling(run):
  """Logged training accuracy at the last epoch minus SETTLE_EPOCHS
  before; None for a run shorter than that."""
  ran = run.final('epochs_run')
  if ran is None or ran <= SETTLE_EPOCHS:
    return None
  now = run.at_epoch('train_accuracy', int(ran))
  then = run.at_epoch('train_accuracy', int(ran) - SETTLE_EPOCHS)
  return None if now is None or then is None else now - then


TRAIN = report.final('clean_train_accuracy', 'train acc')
VAL = report.final('val_accuracy', 'val acc')
GAP = report.Column('gap', _gap, '.4f')
TEST = report.final('test_accuracy', 'test acc')
SETTLE = report.Column(f'train Δ{SETTLE_EPOCHS}', _settling, '.4f')
BEST = report.default_column('best epoch')
W_RMS = report.final('weight_rms_ratio', 'w1 RMS/init', '.3f')
W_MAX = report.final('weight_max_ratio', 'w1 max/init', '.3f')
TOP1 = report.final('ablation_top1_drop', 'top-1 drop')
TOPK = report.final('ablation_top_drop', 'top-k drop')
RANDOM = report.final('ablation_random_drop', 'random-k drop')
K = report.final('ablation_k', 'k units', '.0f', exact=True)
RANDOM_K = report.final('ablation_random_k', 'random k', '.0f', exact=True)
UNIT_MEAN = report.final('ablation_unit_mean_drop', 'unit mean drop', '.5f')
UNIT_MAX = report.final('ablation_unit_max_drop', 'unit max drop')
COLUMNS = (TRAIN, VAL, GAP, TEST, SETTLE, BEST, W_RMS, W_MAX, TOP1, TOPK,
           RANDOM, K, RANDOM_K, UNIT_MEAN, UNIT_MAX,
           report.default_column('wall s'))

CHANCE = 0.1  # Fashion-MNIST's 10 classes

# Margins, fixed before any run: the smallest effect that matters.
GAP_MARGIN = 0.01  # a gap cut by under one point is no mitigation (as 000 Q2)
KEEP_MARGIN = 0.005  # test accuracy a remedy may cost (as 004 K5)
WEIGHT_MARGIN = 0.1  # a tenth of the initial kernel's scale
TOP1_MARGIN = 0.002  # 20 of 10,000 test images for one unit of 512
TOPK_MARGIN = 0.01  # one point of accuracy for a tenth of the layer
RANDOM_MARGIN = 0.005  # half a point: random units cost less than top ones
# Regime thresholds.
OVERFIT_GAP = 0.05  # the unregularized net overfits
SETTLED = 0.02  # logged train accuracy rose at most this in the last 10
MATCHED = 0.02  # test accuracies this close: drops compare like with like


# -- the arms (rules read the table, never the flags) ---------------------------
def _axes(ev: claims.Evidence, trial: str):
  return {k.split('.')[-1]: float(v)
          for k, v in ev.table[trial].get('overrides', {}).items()}


_KINDS = {'none': lambda l2, rate: l2 == 0 and rate == 0,
          'L2': lambda l2, rate: l2 > 0 and rate == 0,
          'dropout': lambda l2, rate: l2 == 0 and rate > 0}


def _trial(ev: claims.Evidence, kind: str) -> str:
  """The one trial of arm `kind` ('none', 'L2', 'dropout')."""
  found = [t for t in ev.trials if _KINDS[kind](
      _axes(ev, t).get('l2', 0.0), _axes(ev, t).get('dropout_rate', 0.0))]
  if len(found) != 1:
    raise claims.MissingTrial(f'{len(found)} trials of the {kind} arm in '
                              'this grid (need one)')
  return found[0]


def _name(ev: claims.Evidence, kind: str) -> str:
  a = _axes(ev, _trial(ev, kind))
  return {'none': 'none', 'L2': f'L2 {a.get("l2", 0):g}',
          'dropout': f'dropout {a.get("dropout_rate", 0):g}'}[kind]


def _arm(ev: claims.Evidence, kind: str, column) -> claims.Sample:
  """A remedy's seeds, those that collapsed kept (a remedy that breaks
  training has failed, not dropped out); the baseline's without them
  (its regime requires that it trains)."""
  return ev.sample(_trial(ev, kind), column, _name(ev, kind),
                   keep_collapsed=kind != 'none')


# -- the rules ----------------------------------------------------------------
def _mitigates(kind: str):
  def rule(ev: claims.Evidence) -> claims.Verdict:
    return claims.less_overfitting(
        _arm(ev, kind, GAP), _arm(ev, 'none', GAP), _arm(ev, kind, TEST),
        _arm(ev, 'none', TEST), GAP_MARGIN, KEEP_MARGIN)
  return rule


def _smaller_weights(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([
      (what, claims.less(_arm(ev, 'L2', column), _arm(ev, 'none', column),
                         WEIGHT_MARGIN, f'first-layer kernel {what} over '
                         'its initial value', fmt='.3f'))
      for what, column in (('RMS', W_RMS), ('largest |w|', W_MAX))], 'and')


def _relies_less(column, margin: float, what: str):
  def rule(ev: claims.Evidence) -> claims.Verdict:
    verdict = claims.less(_arm(ev, 'dropout', column),
                          _arm(ev, 'none', column), margin, what)
    return verdict.with_note(
        'test accuracy with nothing zeroed: '
        f'{_arm(ev, "dropout", TEST).describe()} vs '
        f'{_arm(ev, "none", TEST).describe()}')
  return rule


# -- preconditions ----------------------------------------------------------------
def _mean(ev, kind, column) -> float:
  values = _arm(ev, kind, column).values
  return float(np.mean(values)) if values.size else math.nan


OVERFITS = claims.requires(
    'the unregularized net overfits: train - val accuracy gap (none)',
    lambda ev: _arm(ev, 'none', GAP), '>=', OVERFIT_GAP)


def _trains(kind: str) -> claims.Requirement:
  return claims.requires(f'{kind} trains above chance: val acc',
                         lambda ev: _arm(ev, kind, VAL), '>=', CHANCE + 0.1)


def _settled(kind: str) -> claims.Requirement:
  return claims.requires(
      f'{kind} has settled: logged train accuracy gained in the last '
      f'{SETTLE_EPOCHS} epochs', lambda ev: _arm(ev, kind, SETTLE), '<=',
      SETTLED)


def _regime(kind: str):
  return (OVERFITS, _trains('none'), _settled('none'), _settled(kind))


MATCHED_ACCURACY = claims.requires(
    'matched nets: |test acc of dropout - of none| (means)',
    lambda ev: abs(_mean(ev, 'dropout', TEST) - _mean(ev, 'none', TEST)),
    '<=', MATCHED)


def _reliance_regime(column, margin: float, what: str):
  return (OVERFITS, _trains('none'), _trains('dropout'), MATCHED_ACCURACY,
          claims.requires(f'none relies on {what}: test accuracy lost by '
                          'zeroing them (at least twice the margin)',
                          lambda ev: _arm(ev, 'none', column), '>=',
                          2 * margin))


_MITIGATE_TESTED = (
    'proxy for "mitigate": the train (inference mode) - validation accuracy '
    'gap after 60 epochs (last epoch, no early stopping) of a 3x512 MLP on '
    '2,000 Fashion-MNIST images, {arm} against no regularization, smaller '
    f'by a margin of {GAP_MARGIN} AND a test accuracy no worse (non-'
    f'inferiority, margin {KEEP_MARGIN}), both (Holm); seeds that collapse '
    'are kept{note}')
_ABLATION_TESTED = (
    'test accuracy lost when {units} of the last hidden layer (512 units) '
    '{verb} zeroed at inference, dropout 0.5 against '
    'no dropout (3x512 MLP, 2,000 Fashion-MNIST images, 60 epochs), smaller '
    'by a margin of {margin:g}, where the two nets\' test accuracies are '
    'within 0.02 and the net without dropout loses at least twice the '
    'margin; the earlier hidden layers are not ablated')

CLAIMS = (
    claims.Claim(
        '004 G3', 'Two techniques to mitigate overfitting are: 1. '
        'Regularization: Techniques like L1 or L2 regularization add penalty '
        'terms to the loss function',
        tested_as=_MITIGATE_TESTED.format(
            arm='L2 at reg.l2=0.02 (dlexp\'s (l2/2) sum w^2 on the kernels, '
            'Keras l2(0.01))', note='; L1 is not tested (the notes give it no '
            'strength)'),
        rule=_mitigates('L2'), regime=_regime('L2')),
    claims.Claim(
        '004 G3', 'L1 or L2 regularization add penalty terms to the loss '
        'function, discouraging the model from assigning excessively large '
        'weights to features',
        tested_as='the first hidden layer\'s kernel (the weights on the '
        'input features) after training, its RMS and its largest |w| each '
        'over their values at the seed\'s initialization, L2 (reg.l2=0.02) '
        f'against none, smaller by a margin of {WEIGHT_MARGIN} (a tenth of '
        'the initial scale), both (Holm); L1 is not tested',
        rule=_smaller_weights,
        regime=(OVERFITS, _trains('none'), _trains('L2'))),
    claims.Claim(
        '004 G3', 'Two techniques to mitigate overfitting are: ... 2. '
        'Dropout: Dropout randomly deactivates a fraction of neurons during '
        'each training iteration',
        tested_as=_MITIGATE_TESTED.format(arm='dropout at rate 0.5 after '
                                          'each hidden layer', note=''),
        rule=_mitigates('dropout'), regime=_regime('dropout')),
    claims.Claim(
        '004 G3', 'preventing the network from relying too heavily on any '
        'one neuron',
        tested_as=_ABLATION_TESTED.format(
            units='the one unit ranked most important on validation',
            verb='is',
            margin=TOP1_MARGIN) + '; "or feature" (input features) is not '
        'tested',
        rule=_relies_less(TOP1, TOP1_MARGIN, 'test accuracy lost by zeroing '
                          'the most important unit'),
        regime=_reliance_regime(TOP1, TOP1_MARGIN, 'its most important '
                                'unit')),
    claims.Claim(
        '004 G10', 'Dropout helps prevent overfitting',
        tested_as=_MITIGATE_TESTED.format(
            arm='dropout at rate 0.5 after each hidden layer', note='; the '
            'contrast of the 004 G3 dropout claim, "prevent" read as a '
            'smaller gap, not none'),
        rule=_mitigates('dropout'), regime=_regime('dropout')),
    claims.Claim(
        '004 G10', 'It reduces reliance on specific neurons',
        tested_as=_ABLATION_TESTED.format(
            units='the 10% of units (51) ranked most important on '
            'validation', verb='are',
            margin=TOPK_MARGIN),
        rule=_relies_less(TOPK, TOPK_MARGIN, 'test accuracy lost by zeroing '
                          'the top 10% of units together'),
        regime=_reliance_regime(TOPK, TOPK_MARGIN, 'its top 10% of units')),
    claims.Claim(
        '004 G10', 'encourages the network to learn redundant '
        'representations',
        tested_as='proxy: redundancy read as robustness to losing random '
        'units (what redundant units would give), not measured as '
        'similarity between units: ' + _ABLATION_TESTED.format(
            units='a random 25% of units (128; mean of 10 draws)',
            verb='are', margin=RANDOM_MARGIN),
        rule=_relies_less(RANDOM, RANDOM_MARGIN, 'test accuracy lost by '
                          'zeroing a random 25% of units'),
        regime=_reliance_regime(RANDOM, RANDOM_MARGIN, 'random 25% of its '
                                'units')),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, l2: Optional[float] = None, rate: Optional[float] = None,
        ablate_fraction: Optional[float] = None,
        ablate_draws: Optional[int] = None,
        random_fraction: Optional[float] = None,
        session=None) -> ablation.Result:
  """Trains the three arms (none, L2, dropout) and decides the claims. From
  Python: `run(size='smoke')`, or `run(config, 'runs/mine', l2=0.002,
  rate=0.3)`; the keywords are the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  l2 = SCRIPT.axis('l2', session.size) if l2 is None else l2
  rate = SCRIPT.axis('rate', session.size) if rate is None else rate
  fraction = (SCRIPT.axis('ablate_fraction', session.size)
              if ablate_fraction is None else ablate_fraction)
  draws = (SCRIPT.axis('ablate_draws', session.size) if ablate_draws is None
           else ablate_draws)
  random_fraction = (SCRIPT.axis('random_fraction', session.size)
                     if random_fraction is None else random_fraction)
  if not l2 > 0:
    raise DlexpError(f'--l2={l2}: the L2 arm needs a penalty > 0')
  if not 0 < rate < 1:
    raise DlexpError(f'--rate={rate}: the dropout arm needs 0 < rate < 1')
  if config.model.name != 'mlp':
    raise DlexpError(f'--model={config.model.name}: the weight and ablation '
                     'columns read an MLP\'s dense1 and logits layers; use '
                     '--model=mlp')
  if config.model.dropout == 'classic':
    raise DlexpError('--config.model.dropout=classic scales the features at '
                     'inference, which the unit ablation cannot read; use an '
                     'inverted variant (standard)')
  hooks = [analysis.clean_train_accuracy_hook(),
           analysis.weight_size_hook('dense1'),
           analysis.unit_ablation_hook(fraction, draws, random_fraction)]
  arms = [{'reg.l2': a, 'model.dropout_rate': b}
          for a, b in ((0.0, 0.0), (l2, 0.0), (0.0, rate))]
  return ablation.run_ablation(
      session, {'remedy': arms}, config, COLUMNS,
      title='Overfitting remedies: L2 and dropout', final_hooks=hooks,
      options={'ablate_fraction': fraction, 'ablate_draws': draws,
               'random_fraction': random_fraction},
      axis_flags={'reg.l2': 'l2', 'model.dropout_rate': 'rate'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), l2=_L2.value, rate=_RATE.value,
      ablate_fraction=_FRACTION.value, ablate_draws=_DRAWS.value,
      random_fraction=_RANDOM_FRACTION.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
