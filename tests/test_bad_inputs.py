"""The catalogue of bad inputs: each gives one line on stderr naming the bad
value and what is allowed, a non-zero exit, no traceback, and writes nothing
(checked before any compile)."""
import gzip
import os

import pytest

from conftest import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = 'experiments/elu_vs_relu.py'
SMALL = ['--dataset=synthetic', '--epochs=1', '--seeds=1',
         '--config.model.depth=1', '--config.model.width=8',
         '--config.data.val_size=500']

# (id, extra argv, expected substring of the one error line)
CASES = [
    ('unknown_flag', ['--bogus=1'], "Unknown command line flag 'bogus'"),
    ('positional_arg', ['relu'], "unexpected arguments ['relu']"),
    ('unknown_config_key', ['--config.optimizer.lr=0.1'],
     "unknown config key 'optimizer.lr'; did you mean "
     "'optimizer.learning_rate'?"),
    ('unknown_nested_key', ['--config.model.activaton=relu'],
     "did you mean 'model.activation'?"),
    ('wrong_type_float', ['--config.optimizer.learning_rate=abc'],
     "could not convert string to float: 'abc'"),
    ('wrong_type_int_flag', ['--epochs=ten'], '--epochs=ten'),
    ('negative_learning_rate', ['--config.optimizer.learning_rate=-0.1'],
     'optimizer.learning_rate=-0.1 must be > 0'),
    ('zero_learning_rate', ['--config.optimizer.learning_rate=0'],
     'optimizer.learning_rate=0.0 must be > 0'),
    ('momentum_above_one', ['--config.optimizer.momentum=1.5'],
     'optimizer.momentum=1.5 must be in [0, 1)'),
    ('negative_momentum', ['--config.optimizer.momentum=-0.1'],
     'optimizer.momentum=-0.1 must be in [0, 1)'),
    ('dropout_rate_one', ['--config.model.dropout_rate=1.0'],
     'model.dropout_rate=1.0'),
    ('negative_dropout_rate', ['--config.model.dropout_rate=-0.2'],
     'model.dropout_rate=-0.2'),
    ('zero_batch_size', ['--config.batch_size=0'],
     'batch_size=0 must be >= 1'),
    ('batch_larger_than_data', ['--config.batch_size=100000'],
     'batch_size=100000 is larger than the training set (9500 examples)'),
    ('zero_epochs', ['--epochs=0'], 'epochs=0 must be >= 1'),
    ('zero_seeds', ['--seeds=0'], 'num_seeds=0 must be >= 1'),
    ('unknown_model', ['--model=CNN'],
     "unknown model 'CNN' (did you mean 'cnn'?)"),
    ('unknown_activation', ['--activations=relu,reluu'],
     "unknown activation 'reluu' (did you mean 'relu'?)"),
    ('unknown_initializer', ['--config.model.kernel_init=he_normall'],
     "unknown initializer 'he_normall' (did you mean 'he_normal'?)"),
    ('unknown_optimizer', ['--config.optimizer.name=adamm'],
     "unknown optimizer 'adamm' (did you mean 'adam'?)"),
    ('unknown_schedule', ['--config.schedule.name=cosin'],
     "unknown schedule 'cosin' (did you mean 'cosine'?)"),
    ('unknown_loss', ['--config.loss.name=hinge'], "unknown loss 'hinge'"),
    ('unknown_dataset', ['--dataset=cifar11'],
     "unknown dataset 'cifar11' (did you mean 'cifar10'?)"),
    ('unknown_member_mode', ['--config.members=gpu'],
     "members='gpu' is not allowed; allowed: auto, vmap, loop"),
    ('negative_val_size', ['--config.data.val_size=-5'],
     'data.val_size=-5 must be >= 0'),
    ('unknown_monitor', ['--config.early_stopping.monitor=val_acc',
                         '--config.early_stopping.patience=2'],
     "early_stopping.monitor='val_acc' is not a logged metric"),
    ('negative_patience', ['--config.early_stopping.patience=-1'],
     'early_stopping.patience=-1 must be >= 0'),
    ('unknown_norm', ['--config.model.norm=layer'], "model.norm='layer'"),
    ('unknown_dropout_variant', ['--config.model.dropout=gaussian'],
     "unknown dropout variant 'gaussian'"),
    ('zero_val_size_watched', ['--config.data.val_size=0'],
     "early_stopping.monitor='val_loss' watches the validation split, and "
     'data.val_size=0 leaves none'),
    ('val_size_below_auto', ['--config.data.val_size=-2'],
     'data.val_size=-2 must be >= 0, or -1 for auto'),
    ('zero_probe_size', ['--config.diagnostics.probe_size=0'],
     'diagnostics.probe_size=0 must be >= 1, or -1 for auto (up to 512)'),
    # An explicit probe larger than its split: an error, not a smaller probe.
    ('probe_larger_than_validation', ['--config.diagnostics.probe_size=501'],
     'diagnostics.probe_size=501 is larger than the validation split (500 '
     'examples) the probe is drawn from; allowed: 1..500, or -1 = auto'),
    # Non-finite numbers: rejected up front, not trained until "diverged".
    ('inf_learning_rate', ['--config.optimizer.learning_rate=inf'],
     'optimizer.learning_rate=inf not allowed; need a finite float'),
    ('nan_learning_rate', ['--config.optimizer.learning_rate=nan'],
     'optimizer.learning_rate=nan not allowed; need a finite float'),
    ('nan_momentum', ['--config.optimizer.momentum=nan'],
     'optimizer.momentum=nan not allowed'),
    ('inf_weight_decay', ['--config.optimizer.weight_decay=inf'],
     'optimizer.weight_decay=inf not allowed'),
    ('inf_l2', ['--config.reg.l2=inf'], 'reg.l2=inf not allowed'),
    ('nan_decay_rate', ['--config.schedule.decay_rate=nan'],
     'schedule.decay_rate=nan not allowed'),
    ('inf_label_smoothing', ['--config.loss.label_smoothing=-inf'],
     'loss.label_smoothing=-inf not allowed'),
    ('inf_init_value', ['--config.model.init_value=inf'],
     'model.init_value=inf not allowed; need a finite float, or nan (the '
     'sentinel)'),
    # A shortcut flag and its --config form must not disagree silently.
    ('epochs_twice', ['--config.epochs=3'],
     '--epochs=1 and --config.epochs=3 disagree; give one'),
    ('seeds_twice', ['--config.num_seeds=2'],
     '--seeds=1 and --config.num_seeds=2 disagree'),
    ('model_twice', ['--model=cnn', '--config.model.name=mlp'],
     '--model=cnn and --config.model.name=mlp disagree'),
    ('dataset_twice', ['--config.data.name=mnist1d'],
     '--dataset=synthetic and --config.data.name=mnist1d disagree'),
    # The grid sets its axis per trial: a --config value for it would vanish.
    ('axis_set_by_config', ['--config.model.activation=tanh'],
     '--config.model.activation=tanh is overridden by the ablated axis '
     'model.activation (relu, leaky_relu, elu, selu); set it with '
     '--activations'),
    ('variational_dropout_on_mlp', ['--config.model.dropout=variational'],
     "model.dropout='variational' not allowed for model 'mlp'"),
    ('data_dir_for_generated_data', ['--data_dir=/usr/share'],
     "data.data_dir='/usr/share' not allowed with data.name='synthetic'"),
]


def _run(argv, workdir, env=None):
  return run_cli([SCRIPT, f'--workdir={workdir}'] + argv, timeout=120,
                 env=env)


def _assert_one_line_error(proc, expected):
  assert proc.returncode != 0
  assert 'Traceback' not in proc.stderr, proc.stderr
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1, proc.stderr
  assert lines[0].startswith('error: '), lines[0]
  assert expected in lines[0], lines[0]


@pytest.mark.parametrize('argv,expected', [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_cli_input(tmp_path, argv, expected):
  workdir = tmp_path / 'runs'
  proc = _run(SMALL + argv, workdir)
  _assert_one_line_error(proc, expected)
  assert not workdir.exists()  # nothing written before the check


def test_workdir_that_is_a_file(tmp_path):
  path = tmp_path / 'a_file'
  path.write_text('keep me')
  _assert_one_line_error(_run(SMALL, path), 'is a file; pass a directory')
  assert path.read_text() == 'keep me'


def test_workdir_that_cannot_be_created(tmp_path):
  _assert_one_line_error(_run(SMALL, '/proc/dlexp_runs'), 'cannot be created')


def test_data_dir_without_the_dataset(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  proc = _run(['--dataset=cifar10', f'--data_dir={empty}', '--epochs=1'],
              tmp_path / 'runs')
  _assert_one_line_error(proc, str(empty))
  assert not (tmp_path / 'runs').exists()


def test_truncated_dataset_file(tmp_path):
  src = '/usr/share/datasets/fashion-mnist'
  if not os.path.isdir(src):
    pytest.skip('Fashion-MNIST is not installed (apt-get install '
                'dataset-fashion-mnist)')
  bad = tmp_path / 'fmnist'
  bad.mkdir()
  for name in os.listdir(src):
    data = open(os.path.join(src, name), 'rb').read()
    if name.startswith('train-images'):
      data = gzip.compress(gzip.decompress(data)[:100000])  # truncated
    (bad / name).write_bytes(data)
  proc = _run(['--dataset=fashion_mnist', f'--data_dir={bad}', '--epochs=1'],
              tmp_path / 'runs')
  _assert_one_line_error(proc, 'train-images-idx3-ubyte')
  assert not (tmp_path / 'runs').exists()


def test_report_on_missing_workdir(tmp_path):
  proc = run_cli(['-m', 'dlexp.report', str(tmp_path / 'nothing')],
                 timeout=60)
  _assert_one_line_error(proc, 'is not a directory')


def _registries():
  """Every Registry of the package, found by walking its modules."""
  import importlib  # pylint: disable=g-import-not-at-top
  import pkgutil  # pylint: disable=g-import-not-at-top
  import dlexp  # pylint: disable=g-import-not-at-top
  from dlexp.registry import Registry  # pylint: disable=g-import-not-at-top
  found = {}
  for info in pkgutil.walk_packages(dlexp.__path__, 'dlexp.'):
    if info.name.startswith('dlexp.train'):
      continue  # the engine registers nothing selectable
    module = importlib.import_module(info.name)
    for value in vars(module).values():
      if isinstance(value, Registry):
        found[value.kind] = value
  return found


def test_every_registry_has_an_unknown_name_case():
  kinds = _registries()
  assert {'model', 'dataset', 'activation', 'optimizer'} <= set(kinds)
  expected = ' '.join(c[2] for c in CASES)
  missing = [k for k in kinds if f'unknown {k} ' not in expected]
  assert not missing, f'no bad-input case for an unknown {missing} name'


def test_named_data_dir_without_the_files(tmp_path):
  """fashion_mnist with --data_dir (or $DLEXP_DATA_DIR) naming a folder
  without the files: an error naming it, even where a system copy exists
  (which used to be read instead, without a word)."""
  empty = tmp_path / 'empty'
  empty.mkdir()
  small = [a for a in SMALL if not a.startswith('--dataset')]
  proc = _run(small + ['--dataset=fashion_mnist', f'--data_dir={empty}'],
              tmp_path / 'runs')
  _assert_one_line_error(
      proc, f'data.data_dir={empty} does not hold the four IDX files')
  assert 'missing train-images-idx3-ubyte' in proc.stderr
  proc = _run(small + ['--dataset=fashion_mnist'], tmp_path / 'runs',
              env={'DLEXP_DATA_DIR': str(empty)})
  _assert_one_line_error(
      proc, f'$DLEXP_DATA_DIR={empty} does not hold the four IDX files')
  assert not (tmp_path / 'runs').exists()


# The Python API refuses the same mistakes with the same one line, before
# any data is loaded or anything compiled, and writes nothing.
API_CASES = [
    ({'optimizer.lr': 0.1},
     "unknown config key 'optimizer.lr'; did you mean "
     "'optimizer.learning_rate'?"),
    ({'model.name': 'CNN'}, "unknown model 'CNN' (did you mean 'cnn'?)"),
    ({'data.name': 'Fashion_MNIST'},
     "unknown dataset 'Fashion_MNIST' (did you mean 'fashion_mnist'?)"),
    ({'optimizer.learning_rate': float('nan')},
     'optimizer.learning_rate=nan not allowed; need a finite float'),
    ({'epochs': 0}, 'epochs=0 must be >= 1'),
    ({'model.activation': 'reluu'},
     "unknown activation 'reluu' (did you mean 'relu'?)"),
    ({'early_stopping.monitor': 'val_acc', 'early_stopping.patience': 2},
     "early_stopping.monitor='val_acc' is not a logged metric"),
]


@pytest.mark.parametrize('overrides,expected', API_CASES,
                         ids=[c[1].split()[0] for c in API_CASES])
def test_bad_python_api_input(tmp_path, overrides, expected):
  import dlexp
  from dlexp.errors import DlexpError
  cfg = dict({'data.name': 'synthetic'}, **overrides)
  with pytest.raises(DlexpError) as raised:
    dlexp.fit(cfg, workdir=str(tmp_path / 'runs'), out=False)
  assert str(raised.value).startswith(expected), str(raised.value)
  assert '\n' not in str(raised.value)
  assert not (tmp_path / 'runs').exists()


def test_a_script_run_from_python_refuses_one_string_for_a_list(tmp_path):
  from dlexp import findings
  from dlexp.errors import DlexpError
  elu = findings.load_script('elu_vs_relu')
  with pytest.raises(DlexpError, match=r"activations='relu' must be a list"):
    elu.run(None, str(tmp_path / 'runs'), size='smoke', activations='relu')
  with pytest.raises(DlexpError, match="size='tiny' not allowed"):
    elu.run(None, str(tmp_path / 'runs'), size='tiny')
  assert not (tmp_path / 'runs').exists()
