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

import argparse
import io
import os
import unittest
from unittest import mock

from glance_download.client import copy
from glance_download.client import plugin
from glance_download.client import selection
from glance_download.client import sync


class PluginTest(unittest.TestCase):

    def test_option_and_version(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            parser = plugin.build_option_parser(argparse.ArgumentParser())
            args = parser.parse_args([])
        self.assertEqual('1', args.os_glance_download_api_version)
        self.assertEqual('os_glance_download_api_version',
                         plugin.API_VERSION_OPTION)
        self.assertIn(plugin.DEFAULT_API_VERSION, plugin.API_VERSIONS)

    def test_make_client_takes_the_cli_session_and_region(self):
        instance = mock.Mock(region_name='R1', interface=None)
        client = plugin.make_client(instance)
        self.assertIs(instance.session, client.session)
        self.assertEqual(('R1', 'public'),
                         (client.region_name, client.interface))
        self.assertEqual('R2', client.images('R2').region)


class SelectionTest(unittest.TestCase):

    def parse(self, *argv):
        command = sync.SyncImages(mock.Mock(), mock.Mock())
        return command.get_parser('image sync').parse_args(
            list(argv) + ['--to-region', 'R2'])

    def test_filters(self):
        args = self.parse('--visibility', 'public', '--tag', 'a', '--tag',
                          'b', '--property', 'k=v=w', '--project', 'p',
                          '--name', 'n')
        self.assertEqual([('status', 'active'), ('visibility', 'public'),
                          ('tag', 'a'), ('tag', 'b'), ('k', 'v=w'),
                          ('owner', 'p'), ('name', 'n')],
                         selection.selection_filters(args))

    def test_bad_property(self):
        self.assertRaises(ValueError, selection.property_filter, 'novalue')
        self.assertRaises(SystemExit, self.parse, '--property', '=v')

    def test_targets_are_exclusive(self):
        command = sync.SyncImages(mock.Mock(), mock.Mock())
        parser = command.get_parser('image sync')
        self.assertRaises(SystemExit, parser.parse_args,
                          ['--to-region', 'R2', '--to-all-regions'])
        self.assertRaises(SystemExit, parser.parse_args, [])


class CountsTest(unittest.TestCase):
    """The parser refuses a count out of range, before any cloud is asked.

    The CLI then exits 2, argparse's status for a bad command line.
    """

    COMMANDS = ((copy.CopyImage, ['img', '--to-region', 'R2']),
                (sync.SyncImages, ['--to-region', 'R2']))

    def parse(self, command, *argv):
        return command(mock.Mock(), mock.Mock()).get_parser(
            'image').parse_args(list(argv))

    def refused(self, command, *argv):
        stderr = io.StringIO()
        with mock.patch('sys.stderr', stderr):
            with self.assertRaises(SystemExit) as caught:
                self.parse(command, *argv)
        self.assertEqual(2, caught.exception.code)
        return stderr.getvalue()

    def test_steps_and_imports_at_once_are_one_or_more(self):
        for command, argv in self.COMMANDS:
            for option in ('--max-parallel', '--max-per-region',
                           '--max-imports-per-region'):
                for value in ('0', '-3'):
                    with self.subTest(command=command.__name__,
                                      option=option, value=value):
                        self.assertIn(
                            f'argument {option}: {value} is too small: '
                            'give a whole number greater than 0',
                            self.refused(command, *argv, option, value))
                args = self.parse(command, *argv, option, '1')
                self.assertEqual(1, getattr(
                    args, option[2:].replace('-', '_')))

    def test_not_a_number(self):
        for command, argv in self.COMMANDS:
            self.assertIn("argument --max-parallel: 'two' is not a whole "
                          'number', self.refused(command, *argv,
                                                 '--max-parallel', 'two'))

    def test_max_delete_is_zero_or_more(self):
        argv = ['--tag', 't', '--to-region', 'R2']
        self.assertIn('argument --max-delete: -1 is too small: give a '
                      'whole number 0 or more',
                      self.refused(sync.SyncImages, *argv,
                                   '--max-delete', '-1'))
        self.assertEqual(0, self.parse(sync.SyncImages, *argv,
                                       '--max-delete', '0').max_delete)

    def test_defaults(self):
        for command, argv in self.COMMANDS:
            args = self.parse(command, *argv)
            self.assertEqual((4, 2, 4), (args.max_parallel,
                                         args.max_per_region,
                                         args.max_imports_per_region))
        self.assertEqual(10, self.parse(sync.SyncImages,
                                        '--to-region', 'R2').max_delete)
