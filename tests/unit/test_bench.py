# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""tools/bench's options, log reading, verdicts and plugin@REV copy."""

import contextlib
import io
import os
import tempfile
import unittest

from tests.functional import proxy
from tests.toolkit.bench import base
from tests.toolkit.bench import control
from tests.toolkit.bench import options
from tests.toolkit.bench import report
from tests.toolkit.bench import tasklog
from tests.toolkit.bench import wan
from tests.toolkit.bench import wan_report

MIB = base.MIB
GIB = base.GIB


class FakeLink:

    link = proxy.Link(rtt=0.06, per_stream=8 * MIB, aggregate=64 * MIB)


def medians(download, growth=3 * MIB, streams=8, wall=None):
    return {'download': download, 'growth': growth, 'streams': streams,
            'wall': wall}


class StreamsTest(unittest.TestCase):

    def setUp(self):
        self.contenders = wan.wan_contenders(8)

    def test_fewer_streams_than_set_is_not_honoured(self):
        why = wan.not_honoured(self.contenders['plugin-N'],
                               {'streams': 1, 'message': 'Downloaded'})
        self.assertIn('set to 8 streams but opened at most 1', why)

    def test_the_streams_set_are_honoured(self):
        self.assertIsNone(wan.not_honoured(self.contenders['plugin-N'],
                                           {'streams': 8}))
        self.assertIsNone(wan.not_honoured(self.contenders['plugin-1'],
                                           {'streams': 1}))

    def test_the_task_message_is_quoted(self):
        why = wan.not_honoured(
            self.contenders['plugin-N'],
            {'streams': 4, 'message': 'Downloaded 1.0 GiB over 4 streams'})
        self.assertIn('its task message speaks of 4', why)
        self.assertIsNone(wan.streams_in_message('Downloaded 1.0 GiB'))


class TargetsTest(unittest.TestCase):

    def targets(self, ours, refused=()):
        results = {'plugin-N': ours, 'aria2c': medians(18.0),
                   'in-tree': medians(128.0)}
        return wan_report.wan_targets(
            GIB, results, FakeLink(),
            {name: 'not honoured' for name in refused}, 8)

    def verdicts(self, lines):
        return [line.split(': ', 1)[1].split('.')[0] for line in lines[:4]]

    def test_all_met(self):
        self.assertEqual(['met'] * 4, self.verdicts(
            self.targets(medians(19.5))))

    def test_each_bound(self):
        # 16 s is size / cap: 1.25x is 20 s; 1.1x aria2c is 19.8 s; in-tree
        # 5x faster is 25.6 s.
        self.assertEqual(['missed', 'missed', 'met', 'missed'],
                         self.verdicts(self.targets(
                             medians(20.5, growth=49 * MIB))))

    def test_without_the_plugin(self):
        lines = wan_report.wan_targets(GIB, {'aria2c': medians(18.0)},
                                       FakeLink(), {}, 8)
        self.assertEqual(['not measured'] * 4, self.verdicts(lines))
        self.assertIn('with 8 streams', lines[0])

    def test_not_honoured_is_never_met(self):
        lines = self.targets(medians(19.0, streams=1), refused=['plugin-N'])
        self.assertEqual(['not met'] * 4, self.verdicts(lines))
        self.assertIn('parallel_streams=8 not honoured', lines[0])


class OverlapTargetTest(unittest.TestCase):
    """Time to active against the link and the store step alone."""

    def line(self, wall, store):
        auto = medians(16.5)
        auto.update(wall=wall, wall_spread=0.1)
        staged = medians(16.5)
        staged.update(wall=30.0, store=store, wall_spread=0.1)
        lines = wan_report.wan_targets(
            GIB, {'plugin': auto, 'plugin-staged': staged}, FakeLink(), {},
            8)
        return [line for line in lines if 'time to active' in line][0]

    def test_the_link_bounds(self):
        # 1.15 x 16 s (size / cap) is 18.4 s.
        self.assertIn(': met. 18.00 s', self.line(18.0, store=12.0))
        self.assertIn(': missed. 18.80 s', self.line(18.8, store=12.0))

    def test_the_store_step_bounds(self):
        # 1.15 x 20 s (the store step alone) is 23 s.
        self.assertIn(': met.', self.line(22.0, store=20.0))
        self.assertIn('(20.00 s)', self.line(22.0, store=20.0))


class RegressionTest(unittest.TestCase):

    def test_against_an_earlier_revision(self):
        lines = report.regression_lines({GIB: {
            'plugin': {'download': 1.46, 'wall': 8.30},
            'plugin@abc1234': {'download': 1.40, 'wall': 7.80}}},
                                        'plugin@abc1234')
        self.assertEqual(['met', 'missed'],
                         [line.split(': ', 1)[1].split('.')[0]
                          for line in lines])
        self.assertIn('1.460 s against 1.400 s, 1.04x', lines[0])

    def test_spreads_larger_than_the_difference_are_said(self):
        lines = report.regression_lines({GIB: {
            'plugin': {'download': 1.92, 'download_spread': 0.31,
                       'wall': 11.02, 'wall_spread': 0.67},
            'plugin@abc1234': {'download': 1.83, 'download_spread': 0.03,
                               'wall': 10.78, 'wall_spread': 0.12}}},
                                        'plugin@abc1234')
        self.assertIn('(spreads 0.310 s and 0.030 s: larger than the '
                      'difference', lines[0])
        self.assertIn('(spreads 0.670 s and 0.120 s: larger', lines[1])
        lines = report.regression_lines({GIB: {
            'plugin': {'download': 2.5, 'download_spread': 0.1},
            'plugin@abc1234': {'download': 1.5, 'download_spread': 0.2}}},
                                        'plugin@abc1234')
        self.assertIn('(spreads 0.100 s and 0.200 s)', lines[0])

    def test_spread_of_the_runs(self):
        runs = [{'wall': 3.0, 'download': 1.0}, {'wall': 2.0,
                                                 'download': None},
                {'wall': 2.5, 'download': 1.5}]
        medians = report.summarize(runs, GIB)
        self.assertEqual((1.0, 0.5), (medians['wall_spread'],
                                      medians['download_spread']))

    def test_not_measured(self):
        lines = report.regression_lines(
            {GIB: {'plugin': {'download': 1.46, 'wall': 8.30}}}, 'plugin@x')
        self.assertEqual(2, len(lines))
        self.assertTrue(all(': not measured.' in line for line in lines))


class RevisionTest(unittest.TestCase):
    """plugin@REV runs the package as git has it at REV."""

    def test_head(self):
        revision = control.Revision('HEAD')
        self.addCleanup(revision.remove)
        self.assertRegex(revision.name, r'^plugin@[0-9a-f]{7,}$')
        for name in ('plugin.py', 'sweep.py'):
            self.assertTrue(os.path.isfile(
                os.path.join(revision.package, name)))
        with open(os.path.join(revision.package, 'sweep.py')) as f:
            self.assertNotIn('lacks', f.read())
        self.assertRaisesRegex(base.BenchError, 'did not import',
                               revision.check_imported)
        # What importing the copy does, without importing it here.
        init = os.path.join(revision.package, '__init__.py')
        with open(init) as f:
            exec(compile(f.read(), init, 'exec'), {'__file__': init})
        revision.check_imported()
        revision.forget_imports()
        self.assertRaises(base.BenchError, revision.check_imported)
        revision.remove()
        self.assertFalse(os.path.exists(revision.directory))

    def test_not_a_revision(self):
        self.assertRaisesRegex(base.BenchError, 'not a revision',
                               control.Revision, 'no-such-revision-here')

    def test_an_option_is_not_a_revision(self):
        # git rev-parse --verify must not take --against's value as an
        # option of its own.
        for hostile in ('--git-dir=/nonexistent', '-h', '--all'):
            with self.subTest(hostile):
                self.assertRaisesRegex(base.BenchError, 'not a revision',
                                       control.Revision, hostile)


class OptionsTest(unittest.TestCase):
    """The defaults that depend on the mode, and what is refused."""

    def refused(self, *argv):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            with self.assertRaises(SystemExit) as raised:
                options.parse(list(argv))
        self.assertEqual(2, raised.exception.code)
        return stderr.getvalue()

    def test_plain_loopback(self):
        args = options.parse(['--contenders', 'plugin,in-tree'])
        self.assertEqual([64 * MIB, GIB, 4 * GIB], args.sizes)
        self.assertEqual(['plugin', 'in-tree'], args.contenders)
        self.assertEqual((30, 3), (args.idle_wait, args.retries))

    def test_wan(self):
        args = options.parse(['--wan', '--contenders', 'plugin-N, in-tree'])
        self.assertEqual([GIB], args.sizes)
        self.assertEqual(['plugin-N', 'in-tree'], args.contenders)
        self.assertEqual((5, 0), (args.idle_wait, args.retries))

    def test_stores_and_the_staged_path(self):
        args = options.parse(['--stores', 'fast, cheap', '--contenders',
                              'plugin,plugin-staged'])
        self.assertEqual(['fast', 'cheap'], args.stores)
        self.assertEqual(['plugin', 'plugin-staged'], args.contenders)
        self.assertIsNone(options.parse([]).stores)

    def test_against_adds_a_contender(self):
        args = options.parse(['--sizes', '1M', '--against', 'HEAD',
                              '--contenders', 'plugin,plugin@REV'])
        self.assertEqual([MIB], args.sizes)
        self.assertEqual(['plugin', 'plugin@REV'], args.contenders)
        self.assertIn('unknown contender', self.refused(
            '--contenders', 'plugin@REV'))

    def test_against_on_the_wan(self):
        args = options.parse(['--wan', '--against', 'HEAD', '--contenders',
                              'plugin,plugin-staged,plugin@REV'])
        self.assertEqual(['plugin', 'plugin-staged', 'plugin@REV'],
                         args.contenders)

    def test_refused(self):
        for argv, message in (
                (['--sizes', 'x'], "'x' is not a size like 64M or 1G"),
                (['--sizes', ','], '--sizes names no size'),
                (['--wan', '--sizes', '1G,4G'], 'one --size at a time'),
                (['--contenders', 'aria2c'], "unknown contender 'aria2c'"),
                (['--runs', '0'], '--runs must be at least 1'),
                (['--wan', '--streams', '0'], '--streams must be at least'),
                (['--wan', '--link-rate', '0'], '--link-rate must be'),
                (['--wan', '--rtt', '-1'], '--rtt cannot be negative')):
            with self.subTest(argv=argv):
                self.assertIn(message, self.refused(*argv))


def transition(second, pid, step, task, state, before):
    """A line of glance-api's log as Glance writes it for a task."""
    return (f'2026-12-03 13:00:{second:06.3f} {pid} DEBUG '
            'glance.async_.taskflow_executor [req-1 - - - - -] Task '
            f"'api_image_import-{step}-{task}' (0f1e) transitioned into "
            f"state '{state}' from state '{before}'")


def staged(second, pid):
    """The plugin's line in glance-api's log once the data is staged."""
    return (f'2026-12-03 13:00:{second:06.3f} {pid} INFO '
            'glance_download.tasks [- req-2 - - - - -] Image 1d2e staged '
            'at /var/staging/1d2e: 9 bytes from image 3f4a in region R1, '
            'sha512')


class FlowTest(unittest.TestCase):
    """The times of an import come from its task transitions in the log."""

    def test_one_import(self):
        lines = []
        steps = (('ImageLock', 2.0, 2.01), ('GlanceDownloadData', 2.1, 2.6),
                 ('ImportToStore', 2.7, 2.9), ('CompleteTask', 3.0, 3.05))
        for step, running, success in steps:
            lines.append(transition(running, 42, step, 'abc', 'RUNNING',
                                    'PENDING'))
            lines.append(transition(success, 42, step, 'abc', 'SUCCESS',
                                    'RUNNING'))
        # Another flow, started after this one, and other lines.
        lines[3:3] = ['an unrelated line',
                      transition(2.5, 7, 'ImageLock', 'other', 'RUNNING',
                                 'PENDING'),
                      transition(2.55, 7, 'GlanceDownloadData', 'other',
                                 'SUCCESS', 'RUNNING')]
        flow = tasklog.Flow()
        flow.feed(lines[:4])
        flow.feed(lines[4:])
        self.assertEqual(('abc', 42), (flow.task_id, flow.pid))
        # The steps until the image is active.
        self.assertEqual(['ImageLock', 'GlanceDownloadData', 'ImportToStore'],
                         flow.order)
        self.assertAlmostEqual(0.5, flow.phases['GlanceDownloadData'], 3)
        self.assertAlmostEqual(0.9, flow.stored - flow.first, 3)
        self.assertAlmostEqual(1.05, flow.phases['flow'], 3)
        self.assertIsNone(flow.failed)

    def test_a_download_ending_after_its_step(self):
        # The store step read the data as it arrived: the download step
        # returned at once, and the data was verified later.
        flow = tasklog.Flow()
        flow.feed([
            transition(1, 5, 'ImageLock', 'abc', 'RUNNING', 'PENDING'),
            transition(2, 5, 'GlanceDownloadData', 'abc', 'RUNNING',
                       'PENDING'),
            transition(2.01, 5, 'GlanceDownloadData', 'abc', 'SUCCESS',
                       'RUNNING'),
            staged(3.5, 6),
            staged(4.5, 5),
            staged(5.0, 5)])
        self.assertAlmostEqual(2.5, flow.downloaded('GlanceDownloadData'), 3)
        self.assertIsNone(flow.downloaded('GlanceDownload'))

    def test_a_failed_step(self):
        flow = tasklog.Flow()
        flow.feed([
            transition(1, 5, 'ImageLock', 'abc', 'RUNNING', 'PENDING'),
            transition(2, 5, 'GlanceDownloadData', 'abc', 'RUNNING',
                       'PENDING'),
            transition(3, 5, 'GlanceDownloadData', 'abc', 'FAILURE',
                       'RUNNING')])
        self.assertEqual('GlanceDownloadData', flow.failed)
        self.assertIsNone(flow.done)

    def test_a_partial_line_waits_for_its_end(self):
        with tempfile.NamedTemporaryFile('wb') as log:
            log.write(b'before\n')
            log.flush()
            follower = tasklog.LogFollower(log.name)
            log.write(b'one\ntw')
            log.flush()
            self.assertEqual(['one'], follower.lines())
            log.write(b'o\n')
            log.flush()
            self.assertEqual(['two'], follower.lines())
            self.assertEqual([], follower.lines())


if __name__ == '__main__':
    unittest.main()
