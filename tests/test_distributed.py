"""dlexp.distributed: which processes start JAX's multi-process runtime and
how, checked without starting it (the real two-process run is
test_multiprocess.py); trial shards: disjoint, complete, deterministic."""
import itertools

import jax
import pytest

from dlexp import distributed as dist
from dlexp.errors import ConfigError

SLURM_STEP = dict(SLURM_JOB_ID='4242', SLURM_STEP_NODELIST='gpu[003-004]',
                  SLURM_NTASKS='8', SLURM_PROCID='5', SLURM_LOCALID='1')


def section(**values):
  s = dist.defaults()
  for k, v in values.items():
    s[k] = v
  return s


def test_defaults_are_valid_and_mean_auto():
  s = dist.defaults()
  dist.validate(s)
  assert (s.coordinator, s.num_processes, s.process_id) == ('', 0, -1)


@pytest.mark.parametrize('values, message', [
    (dict(coordinator='10.0.0.1'), "distributed.coordinator='10.0.0.1' must "
     "be 'host:port'"),
    (dict(num_processes=-2), 'distributed.num_processes=-2 must be >= 1'),
    (dict(num_processes=2, process_id=2), 'distributed.process_id=2 must be '
     'in [0, distributed.num_processes) = [0, 2)'),
    (dict(process_id=-3), 'distributed.process_id=-3 must be in'),
])
def test_validate_rejects_bad_values_in_one_line(values, message):
  with pytest.raises(ConfigError) as e:
    dist.validate(section(**values))
  assert message in str(e.value) and '\n' not in str(e.value)


def test_plain_process_is_single():
  assert dist.plan(None, {}, on_tpu=False) == dist.Plan('single', None, 1, 0)
  assert not dist.plan(None, {}, on_tpu=False).multi


def test_explicit_values_from_config_or_environment():
  want = dist.Plan('explicit', '10.0.0.1:1234', 4, 3)
  assert dist.plan(section(coordinator='10.0.0.1:1234', num_processes=4,
                           process_id=3), {}, on_tpu=False) == want
  env = dict(DLEXP_COORDINATOR='10.0.0.1:1234', DLEXP_NUM_PROCESSES='4',
             DLEXP_PROCESS_ID='3')
  assert dist.plan(None, env, on_tpu=False) == want
  # The whole config works as well as its section; equal values agree.
  config = {'distributed': section(num_processes=4)}
  assert dist.plan(config, env, on_tpu=False) == want


def test_config_and_environment_disagreeing_is_an_error():
  env = dict(DLEXP_COORDINATOR='a:1', DLEXP_NUM_PROCESSES='2',
             DLEXP_PROCESS_ID='0')
  with pytest.raises(ConfigError, match=r"distributed.process_id=1 but "
                     r"\$DLEXP_PROCESS_ID='0'; give one of them"):
    dist.plan(section(process_id=1), env, on_tpu=False)
  with pytest.raises(ConfigError, match=r"\$DLEXP_NUM_PROCESSES='two' must "
                     'be an integer'):
    dist.plan(None, dict(DLEXP_NUM_PROCESSES='two'), on_tpu=False)
  with pytest.raises(ConfigError, match=r'distributed.process_id \(or '
                     r'\$DLEXP_PROCESS_ID\)=2 must be in \[0'):
    dist.plan(None, dict(env, DLEXP_PROCESS_ID='2'), on_tpu=False)


def test_incomplete_explicit_values_outside_a_cluster_name_what_is_missing():
  with pytest.raises(ConfigError) as e:
    dist.plan(section(num_processes=2), {}, on_tpu=False)
  assert str(e.value) == (
      'a multi-process run outside SLURM/Open MPI needs distributed.'
      'coordinator (or $DLEXP_COORDINATOR) and distributed.process_id (or '
      '$DLEXP_PROCESS_ID) as well')
  # Inside SLURM, JAX fills in what is left out.
  assert dist.plan(section(coordinator='gpu003:9999'), SLURM_STEP,
                   on_tpu=False) == dist.Plan('explicit', 'gpu003:9999')


def test_slurm_ompi_and_tpu_are_left_to_jax_detection():
  assert dist.plan(None, SLURM_STEP, on_tpu=False) == dist.Plan('slurm')
  one_task = dict(SLURM_STEP, SLURM_NTASKS='1')
  assert dist.plan(None, one_task, on_tpu=False).source == 'single'
  # An sbatch script outside srun has no step: not a multi-process run.
  no_step = {k: v for k, v in SLURM_STEP.items() if k != 'SLURM_STEP_NODELIST'}
  assert dist.plan(None, no_step, on_tpu=False).source == 'single'
  ompi = dict(OMPI_MCA_orte_hnp_uri='1.0;tcp://10.0.0.1:1',
              OMPI_COMM_WORLD_SIZE='2')
  assert dist.plan(None, ompi, on_tpu=False) == dist.Plan('ompi')
  assert dist.plan(None, {}, on_tpu=True) == dist.Plan('tpu')
  # num_processes=1 switches every detection off.
  assert dist.plan(section(num_processes=1), SLURM_STEP,
                   on_tpu=True).source == 'single'
  assert not dist._on_cloud_tpu({'JAX_PLATFORMS': 'cpu'})


def test_initialize_single_process_starts_nothing_and_repeats():
  for _ in range(2):
    assert dist.initialize(None, {}) .source == 'single'
  assert not jax.distributed.is_initialized()
  with pytest.raises(ConfigError):  # before JAX is asked for anything
    dist.initialize(section(num_processes=2), {})
  assert not jax.distributed.is_initialized()
  assert dist.is_primary()


def test_one_process_sees_any_directory_as_shared(tmp_path):
  # Nothing to compare with and nothing written (the two-process case is in
  # test_multiprocess.py).
  assert dist.directory_is_shared(str(tmp_path / 'new'))
  assert not (tmp_path / 'new').exists()


# -- trial shards --------------------------------------------------------------
@pytest.mark.parametrize('n_items, count', [(0, 1), (1, 3), (7, 3), (12, 4),
                                            (10, 10), (97, 8)])
def test_shards_are_disjoint_complete_ordered_and_balanced(n_items, count):
  items = [f'trial{i}' for i in range(n_items)]
  shards = [dist.shard(items, i, count) for i in range(count)]
  assert list(itertools.chain(*shards)) == items  # union, disjoint, in order
  sizes = [len(s) for s in shards]
  assert max(sizes) - min(sizes) <= 1
  assert shards == [dist.shard(list(items), i, count) for i in range(count)]


def test_shards_cut_each_group_only_at_block_boundaries():
  # 5 groups of 6 members, adjacent as the runner orders them.
  items = [(g, m) for g in range(5) for m in range(6)]
  for count in (2, 3, 4, 7):
    programs = sum(len({g for g, _ in dist.shard(items, i, count)})
                   for i in range(count))
    assert programs <= 5 + count - 1


@pytest.mark.parametrize('text, want', [('', (0, 1)), ('0/1', (0, 1)),
                                        ('3/4', (3, 4)), (' 1 / 2 ', (1, 2))])
def test_parse_trial_shard(text, want):
  assert dist.parse_trial_shard(text) == want


@pytest.mark.parametrize('text', ['4/4', '-1/2', '1', 'a/b', '0/0', '1/2/3',
                                  '1.0/2'])
def test_parse_trial_shard_rejects_bad_values(text):
  with pytest.raises(ConfigError) as e:
    dist.parse_trial_shard(text)
  assert str(e.value) == (f'--trial_shard={text!r} must be i/n with '
                          '0 <= i < n')
  with pytest.raises(ConfigError, match='must be i/n with 0 <= i < n'):
    dist.shard([1, 2], 2, 2)


def _array(task, low, high, step=None, count=None):
  env = dict(SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_MIN=str(low),
             SLURM_ARRAY_TASK_MAX=str(high))
  if step is not None:
    env['SLURM_ARRAY_TASK_STEP'] = str(step)
  if count is not None:
    env['SLURM_ARRAY_TASK_COUNT'] = str(count)
  return env


def test_slurm_array_tasks_map_to_shards():
  assert dist.slurm_array_shard({}) is None
  assert dist.slurm_array_shard(_array(2, 0, 3, count=4)) == (2, 4)
  assert dist.slurm_array_shard(_array(3, 1, 4)) == (2, 4)          # 1-4
  assert dist.slurm_array_shard(_array(4, 0, 6, step=2)) == (2, 4)  # 0-6:2
  assert [dist.slurm_array_shard(_array(t, 0, 2))[0] for t in range(3)] == [
      0, 1, 2]
  with pytest.raises(ConfigError, match='not a range without gaps'):
    dist.slurm_array_shard(_array(5, 1, 7, count=3))  # --array=1,5,7


def test_trial_shard_prefers_the_flag_but_never_silently_over_slurm():
  assert dist.trial_shard('', {}) == (0, 1)
  assert dist.trial_shard('1/3', {}) == (1, 3)
  array = _array(1, 0, 2, count=3)
  assert dist.trial_shard('', array) == (1, 3)
  assert dist.trial_shard('1/3', array) == (1, 3)
  with pytest.raises(ConfigError) as e:
    dist.trial_shard('0/3', array)
  assert str(e.value) == ('--trial_shard=0/3 conflicts with the SLURM array '
                          'task (shard 1/3); drop --trial_shard or the array')
