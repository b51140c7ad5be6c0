"""pyproject.toml: the SPDX license string, and version ranges that are
tested: the lowest allowed versions are exactly what `make test-oldest`
installs."""
import os
import re

import pytest

tomllib = pytest.importorskip('tomllib')  # Python 3.11+

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject():
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    return tomllib.load(f)


def _bounds(requirement: str):
  """('jax', '0.4.30', '0.12') of 'jax>=0.4.30,<0.12'."""
  m = re.fullmatch(r'([A-Za-z0-9_.\-]+)(?:\[[^\]]+\])?>=([^,]+),<(.+)',
                   requirement.replace(' ', ''))
  assert m, f'{requirement!r}: need a >=lower,<upper range'
  return m.group(1).lower(), m.group(2), m.group(3)


def _release(version: str):
  return tuple(int(p) for p in re.findall(r'\d+', version.split('.post')[0]))


def _pins():
  pins = {}
  with open(os.path.join(ROOT, 'tests', 'constraints-oldest.txt')) as f:
    for line in f:
      line = line.split('#')[0].strip()
      if line:
        name, version = line.split('==')
        pins[name.lower()] = version
  return pins


def test_license_is_an_spdx_string():
  project = _pyproject()
  assert project['project']['license'] == 'Apache-2.0'
  requires = project['build-system']['requires']
  # setuptools reads an SPDX string from 77 on (PEP 639).
  assert any(_release(r.split('>=')[1]) >= (77,) for r in requires
             if r.startswith('setuptools>='))


def test_every_dependency_has_a_tested_range():
  project = _pyproject()['project']
  for req in project['dependencies'] + project['optional-dependencies'][
      'dev'] + project['optional-dependencies']['gpu']:
    _bounds(req)


def test_oldest_constraints_are_the_lower_bounds():
  pins = _pins()
  project = _pyproject()['project']
  for req in project['dependencies'] + ['pytest>=8,<10']:
    name, lower, _ = _bounds(req)
    assert name in pins, f'{name} missing from constraints-oldest.txt'
    assert _release(pins[name]) == _release(lower) + (0,) * (
        len(_release(pins[name])) - len(_release(lower))), (name, lower)
  assert pins['jaxlib'] == pins['jax']


def test_jax_range_covers_the_tested_versions():
  """CI: 0.10.2 (here); GPU machines: 0.11.2; make test-oldest: the lower
  bound."""
  ranges = {_bounds(r)[0]: _bounds(r)[1:]
            for r in _pyproject()['project']['dependencies']}
  lower, upper = ranges['jax']
  for tested in ('0.4.30', '0.10.2', '0.11.2'):
    assert _release(lower) <= _release(tested) < _release(upper), tested
  lower, upper = ranges['flax']
  for tested in ('0.10.0', '0.12.8', '0.12.10'):
    assert _release(lower) <= _release(tested) < _release(upper), tested
