r"""What does dropout do to training, overfitting and speed, rate by rate?

The notes claim that dropout prevents overfitting and "works well with deep
networks", that a rate of 0.3 drops a neuron with probability 30%, that
dropout slows training "because the network performs more forward and
backward passes", and that at test time activations are scaled down by the
dropout rate. This trains the same model at each rate, several seeds each:
by default the notes' deep MLP (20 hidden ReLU layers of 100 units, dropout
after every one), or --model=cnn. The rate is traced, so all rates and seeds
of one variant are ONE compiled, vmapped program. Columns:

- train acc (drop on): the runner's train accuracy of the best epoch,
  averaged over that epoch's steps WITH dropout active;
- train acc: accuracy on a fixed 10,000-example training subset in inference
  mode (dropout off), with the final (best-epoch) parameters;
- val acc, gap: validation accuracy, and train acc (dropout off) - val acc,
  both in inference mode with the same parameters: the overfitting measure;
- test acc, best epoch: the epoch whose parameters are kept (lowest val
  loss); dropout's real cost in time shows here, as epochs to converge;
- dropped %: measured fraction of units that the model's own Dropout layer
  (the configured variant; the Dense layer for DropConnect) drops in
  training mode at the member's rate, on a random probe of 262,144 units;
- logit scale on/off: RMS of the logits in one training-mode pass (dropout
  on) over their RMS in inference mode, on 512 validation images with the
  final parameters. Inverted dropout keeps each unit's mean but multiplies its
  second moment by 1/(1-rate), layer after layer: in a deep net the training
  signal is far larger than the one inference sees;
- step ms, step/no-drop: time of one compiled train step (batch 128, one
  member, fastest of up to 5 timed runs of 20 steps) at this rate, and its
  ratio to the same model rebuilt with no dropout layers. Dropout adds no
  forward or backward pass; it costs a random draw and a multiply per unit,
  at rate 0 too, since the rate is data, not code. (Inside the grid all
  rates run one program, so the runner's epoch times are equal by
  construction.) Other processes on the machine disturb timings: compare
  ratios;
- predict ms, predict/no-drop, MC cost: time of one compiled prediction
  (inference mode) of 1,000 test examples with the model as configured, its
  ratio to the same model rebuilt without dropout layers (in inference mode
  inverted dropout is the identity: the traced program is the very same,
  checked by comparing the jaxprs), and the cost
  of an MC-dropout prediction (--mc_samples stochastic passes, 10 if unset)
  as a multiple of the ordinary one. Fastest of up to 5 runs each,
  alternating;
- with --mc_samples=N: MC-dropout test accuracy and mean predictive entropy
  (nats) of the prediction averaged over N stochastic passes (dropout on,
  BatchNorm on its running averages), next to the deterministic entropy.

No activation is scaled at test time: dropout is inverted (kept units are
scaled by 1/(1-rate) in training), so inference uses the weights as they are;
--variant=classic is the original form, unscaled in training and scaled by
1-rate at test time (the same function up to that constant).

  python experiments/dropout_rates.py                     # defaults below
  python experiments/dropout_rates.py --mc_samples=20
  python experiments/dropout_rates.py --config.model.depth=2 \
      --config.model.width=512 --config.data.train_limit=5000 --epochs=30
      # a net that overfits: what dropout is for
  python experiments/dropout_rates.py --model=cnn --variant=spatial \
      --rates=0,0.1,0.3 --epochs=2 --seeds=1 --config.data.train_limit=10000 \
      --config.model.conv_impl=im2col   # the native conv is slow on XLA-CPU

--variant sets config.model.dropout; --config.model.dropout=NAME does the
same (any variant, e.g. locked), and giving both with different values is an
error. The rates are the grid: set them with --rates, not
--config.model.dropout_rate. 'spatial' drops whole feature maps and needs a model whose dropout sees them
(cnn, alexnet, inception; on rnn inputs it is locked dropout): on the MLP it
would be standard dropout, so the script stops with a one-line error.
"""
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp import data as data_lib
from dlexp.errors import ConfigError

_RATES = flags.DEFINE_list('rates', ['0', '0.1', '0.2', '0.3', '0.5'],
                           'Dropout rates (config.model.dropout_rate).')
_VARIANT = flags.DEFINE_enum(
    'variant', 'standard',
    ['standard', 'classic', 'spatial', 'alpha', 'dropconnect'],
    'Dropout variant (config.model.dropout).')
_MC_SAMPLES = flags.DEFINE_integer(
    'mc_samples', 0, 'Stochastic passes for MC-dropout test accuracy and '
    'entropy; 0 = off.')

cli.define_flags(
    'dropout_rates', model='mlp', epochs=8, seeds=3,
    smoke={'epochs': 1, 'seeds': 2, 'rates': ['0', '0.3'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5})

# MC-dropout passes whose prediction time is measured without --mc_samples.
_DEFAULT_MC = 10

# Dummy input shapes per data layout, only to see which layers dropout meets.
_PROBE_SHAPES = {'image': (32, 32, 3), 'sequence': (40, 1), 'vector': (64,)}


def _drop_on_train_accuracy(run):
  best = run.final('best_epoch')
  return None if best is None else run.at_epoch('train_accuracy', int(best))


def _gap(run):
  train, val = run.final('clean_train_accuracy'), run.final('val_accuracy')
  return None if train is None or val is None else train - val


def _percent(key):
  return lambda r: None if r.final(key) is None else 100 * r.final(key)


def columns(mc: bool):
  cols = [
      report.Column('train acc (drop on)', _drop_on_train_accuracy, '.4f'),
      report.final('clean_train_accuracy', 'train acc'),
      report.final('val_accuracy', 'val acc'),
      _GAP,
      report.final('test_accuracy', 'test acc'),
      report.DEFAULT_COLUMNS[2],  # best epoch
      report.Column('dropped %', _percent('drop_frequency'), '.1f'),
      report.final('logit_scale', 'logit scale on/off', '.2f'),
      report.final('step_ms', 'step ms', '.2f'),
      report.final('step_time_ratio', 'step/no-drop', '.2f'),
      report.final('predict_ms', 'predict ms', '.2f'),
      report.final('predict_time_ratio', 'predict/no-drop', '.2f'),
      report.final('mc_cost_ratio', 'MC cost', '.1f'),
  ]
  if mc:
    cols += [report.final('mc_test_accuracy', 'MC test acc'),
             report.final('mc_test_entropy', 'MC entropy', '.3f'),
             report.final('test_entropy', 'entropy', '.3f')]
  return cols + [report.DEFAULT_COLUMNS[3]]


def _rate(ev: claims.Evidence, rate: float) -> str:
  trial = ev.trial(dropout_rate=rate)
  if trial is None:
    raise KeyError(f'rate {rate} is not in --rates')
  return trial


def _thirty_percent(ev: claims.Evidence) -> claims.Verdict:
  # The probe has 262,144 units (65,536 weights for DropConnect): the
  # binomial std of the measured fraction is at most 0.0018; allow ~4x.
  return claims.near(ev.values(_rate(ev, 0.3), 'drop_frequency'), 0.3, 0.008,
                     'fraction of units dropped at rate 0.3', '.4f')


def _slower_because_of_passes(ev: claims.Evidence) -> claims.Verdict:
  """An extra forward and backward pass would make a step about twice as
  long; the measured step time with dropout layers decides."""
  rate = max(r for r in (0.1, 0.2, 0.3, 0.5) if ev.trial(dropout_rate=r))
  trial = _rate(ev, rate)
  ratio = ev.values(trial, 'step_time_ratio')
  best = lambda t: claims.describe(ev.values(t, 'best_epoch'), '.1f')
  text = (f'one step at rate {rate:g} takes {claims.describe(ratio, ".2f")} '
          'x the step of the same model without dropout layers (a second '
          'forward and backward pass would be ~2x); epoch of the best '
          f'validation loss {best(trial)} at rate {rate:g} vs '
          f'{best(_rate(ev, 0.0))} without dropout')
  if ratio.size and ratio.mean() < 1.5:
    return claims.Verdict(claims.CONTRADICTED, text)
  if ratio.size and ratio.mean() >= 1.8:
    return claims.Verdict(claims.SUPPORTED, text)
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _inference_not_slower(ev: claims.Evidence) -> claims.Verdict:
  """Prediction time with dropout layers over the same model without them,
  at the largest rate: within 10% supports (timing noise on a shared
  machine is of that order); the MC-dropout multiple is shown beside."""
  rate = max(r for r in (0.1, 0.2, 0.3, 0.5) if ev.trial(dropout_rate=r))
  trial = _rate(ev, rate)
  ratio = ev.values(trial, 'predict_time_ratio')
  verdict = claims.near(ratio, 1.0, 0.1, 'prediction time with dropout layers '
                        f'(rate {rate:g}) over the model without them', '.2f')
  same = ev.values(trial, 'predict_same_program')
  mc = ev.values(trial, 'mc_cost_ratio')
  samples = (ev.groups[trial][0].config.get('script_options') or {}).get(
      'mc_samples') or _DEFAULT_MC
  text = (f'{verdict.evidence}; the inference program with dropout layers '
          f'{"is" if same.size and same.min() == 1 else "is NOT"} the same '
          'as without them (equal jaxprs); an MC-dropout prediction of '
          f'{samples} passes costs {claims.describe(mc, ".1f")} x one '
          'prediction')
  if same.size and same.min() == 1:
    # Equal programs: any timing difference is noise, whatever its size.
    return claims.Verdict(claims.SUPPORTED, text)
  return claims.Verdict(verdict.verdict, text)


def _less_overfitting(ev: claims.Evidence) -> claims.Verdict:
  return claims.compare(ev.values(_rate(ev, 0.0), _GAP),
                        ev.values(_rate(ev, 0.3), _GAP),
                        'train - val accuracy gap (dropout off)', 'rate 0',
                        'rate 0.3')


def _deep_nets(ev: claims.Evidence) -> claims.Verdict:
  return claims.compare(ev.values(_rate(ev, 0.3), 'test_accuracy'),
                        ev.values(_rate(ev, 0.0), 'test_accuracy'),
                        'test accuracy', 'rate 0.3', 'rate 0')


_GAP = report.Column('gap', _gap, '.4f')
CLAIMS = (
    claims.Claim('000 Q3', 'a dropout rate of 0.3 ... [the probability that '
                 'a neuron is dropped is] 30%', _thirty_percent),
    claims.Claim('003 Q7', 'dropout does slow down training, because ... the '
                 'network [performs] more forward and backward passes',
                 _slower_because_of_passes),
    claims.Claim('003 Q7', 'During inference ... dropout does not need to '
                 'be applied ... Therefore, dropout does not slow down '
                 'inference', _inference_not_slower),
    claims.Claim('000 Q2', 'dropout ... prevents overfitting',
                 _less_overfitting),
    claims.Claim('001 Q6', 'Works Well with Deep Networks', _deep_nets),
)


def main(_):
  config = cli.resolved_config()
  cli.apply_shortcut(config, 'variant', 'model.dropout')
  variant = config.model.dropout
  rates = cli.list_flag(_RATES.value, float, 'rates')
  if _MC_SAMPLES.value < 0:
    raise ConfigError(f'--mc_samples={_MC_SAMPLES.value} not allowed; need '
                      '0 (off) or more')
  if variant == 'spatial':
    layout = data_lib.DATASETS.get(config.data.name).layout
    analysis.check_spatial_dropout(config.model, _PROBE_SHAPES[layout])
  hooks = [analysis.clean_train_accuracy_hook(),
           analysis.drop_frequency_hook(variant),
           analysis.logit_scale_hook,
           analysis.step_time_hook(),
           analysis.predict_time_hook(_MC_SAMPLES.value or _DEFAULT_MC)]
  if _MC_SAMPLES.value:
    hooks.append(analysis.mc_dropout_hook(_MC_SAMPLES.value))
  cli.run_ablation({'model.dropout_rate': rates},
                   columns(mc=bool(_MC_SAMPLES.value)), config=config,
                   title=f'Dropout rates ({variant})', final_hooks=hooks,
                   options={'mc_samples': _MC_SAMPLES.value},
                   axis_flags={'model.dropout_rate': 'rates'},
                   claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
