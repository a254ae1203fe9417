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

"""Orphans and the selection of image sync: the decisions, without a cloud."""

import unittest
from unittest import mock

from osc_lib import exceptions

from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import orphans
from glance_download.client import plan
from glance_download.client import selection
from glance_download.client import sync
from glance_download import metadata
from tests.unit import test_client_plan
from tests.unit import test_client_runner

PREFIXES = test_client_plan.PREFIXES
ME, OTHER = 'p-me', 'p-other'


def copy(image_id, source_id='gone', owner=None, **extra):
    if owner:
        extra[metadata.SOURCE_OWNER_PROPERTY] = owner
    return test_client_plan.copy(image_id, source_id=source_id, **extra)


class CandidatesTest(unittest.TestCase):

    def test_known_sources_and_copies_without_provenance(self):
        copies = [copy('c1', source_id='s1'), copy('c2', source_id='x'),
                  copy('c3', source_id=None)]
        self.assertEqual(['x'], orphans.orphan_candidates(copies, {'s1'}))

    def test_the_filters(self):
        copies = [copy('c1', source_id='x', tags=['web']),
                  copy('c2', source_id='y', tags=['db'], hw_disk_bus='ide'),
                  copy('c3', source_id='z', tags=['web'], name='other')]
        self.assertEqual(['x', 'z'], orphans.orphan_candidates(
            copies, (), tags=['web']))
        self.assertEqual(['y'], orphans.orphan_candidates(
            copies, (), properties=[('hw_disk_bus', 'ide')]))
        self.assertEqual(['z'], orphans.orphan_candidates(
            copies, (), tags=['web'], name='other'))

    def test_project_is_the_recorded_source_owner(self):
        copies = [copy('c1', source_id='x', owner=OTHER),
                  copy('c2', source_id='y', owner=ME),
                  copy('c3', source_id='z')]
        self.assertEqual(['x'], orphans.orphan_candidates(
            copies, (), project=OTHER))

    def test_visibility_is_the_copy_s(self):
        copies = [copy('c1', source_id='x', visibility='public'),
                  copy('c2', source_id='y', visibility='private')]
        self.assertEqual(['x'], orphans.orphan_candidates(
            copies, (), visibility='public'))
        self.assertEqual(['x', 'y'], orphans.orphan_candidates(
            copies, (), visibility='all'))

    def test_properties_copies_do_not_carry(self):
        self.assertEqual([], orphans.unmatched_properties(
            [('hw_disk_bus', 'ide'), ('os_distro', 'x')], PREFIXES))
        self.assertEqual(['group'], orphans.unmatched_properties(
            [('group', 'a'), ('hw_disk_bus', 'ide')], PREFIXES))
        # Reserved names and the provenance never identify a source.
        self.assertEqual(
            ['glance_download_source_owner', 'os_hash_value'],
            orphans.unmatched_properties(
                [('os_hash_value', 'h'),
                 ('glance_download_source_owner', 'p')],
                ['os_', 'glance_download_']))


class SourceStateTest(unittest.TestCase):

    def test_a_404_means_gone_only_for_an_own_source_or_an_admin(self):
        for record, admin, state in [
                (ME, False, orphans.GONE),
                (OTHER, False, orphans.HIDDEN),
                # A copy made before the owner was recorded.
                (None, False, orphans.HIDDEN),
                (OTHER, True, orphans.GONE),
                (None, True, orphans.GONE)]:
            self.assertEqual(state, orphans.source_state(
                copy('c1', owner=record), False, ME, admin),
                (record, admin))

    def test_visible_is_present(self):
        self.assertEqual(orphans.PRESENT, orphans.source_state(
            copy('c1', owner=OTHER), True, ME))

    def test_no_project_is_never_an_owner(self):
        self.assertEqual(orphans.HIDDEN, orphans.source_state(
            copy('c1'), False, None))


class OrphanStepsTest(unittest.TestCase):

    def steps(self, copies, states, policy):
        return orphans.orphan_steps('R2', copies, states, policy)

    def test_policies(self):
        copies = [copy('c1'), copy('c2', status='deactivated')]
        states = {'c1': orphans.GONE, 'c2': orphans.GONE}
        for policy, actions in [
                ('report', [plan.ORPHAN, plan.ORPHAN]),
                ('deactivate', [plan.DEACTIVATE, plan.ORPHAN]),
                ('delete', [plan.DELETE, plan.DELETE])]:
            steps = self.steps(copies, states, policy)
            self.assertEqual(actions, [s.action for s in steps], policy)
            self.assertIn('is gone', steps[0].reason)
            self.assertEqual(['c1', 'c2'], [s.image_id for s in steps])

    def test_a_source_not_visible_is_only_reported(self):
        copies = [copy('c1', source_id='a'), copy('c2', source_id='b'),
                  copy('c3', source_id='s')]
        states = {'c1': orphans.HIDDEN, 'c2': orphans.GONE,
                  'c3': orphans.PRESENT}
        for policy in ('deactivate', 'delete'):
            hidden, gone = self.steps(copies, states, policy)
            self.assertEqual((plan.ORPHAN, 'c1', 'a'),
                             (hidden.action, hidden.image_id,
                              hidden.source_id))
            self.assertTrue(hidden.reason.startswith('source not visible'))
            self.assertIn('nothing was changed', hidden.reason)
            self.assertEqual('c2', gone.image_id)
            self.assertNotEqual(plan.ORPHAN, gone.action)

    def test_a_protected_copy_is_not_deleted(self):
        copies = [copy('c1', protected=True), copy('c2')]
        states = {'c1': orphans.GONE, 'c2': orphans.GONE}
        first, second = self.steps(copies, states, 'delete')
        self.assertEqual(plan.ORPHAN, first.action)
        self.assertIn('protected', first.reason)
        self.assertEqual(plan.DELETE, second.action)
        # Deactivating a protected image is allowed.
        self.assertEqual(plan.DEACTIVATE,
                         self.steps(copies, states, 'deactivate')[0].action)


class GuardTest(unittest.TestCase):

    def steps(self, count, action=plan.DELETE):
        return [plan.Step('R2', action, 's', f'c{int(n)}', reason='gone')
                for n in range(count)]

    def test_within_the_limit(self):
        steps = self.steps(3) + [plan.Step('R2', plan.CREATE, 's')]
        self.assertEqual((steps, ''), orphans.guard(steps, 3))

    def test_beyond_it_nothing_is_deleted_or_deactivated(self):
        others = [plan.Step('R2', plan.CREATE, 's'),
                  plan.Step('R2', plan.ORPHAN, 's', 'c9')]
        steps = (self.steps(2) + self.steps(2, plan.DEACTIVATE) + others)
        guarded, refusal = orphans.guard(steps, 3)
        self.assertEqual([plan.FAIL] * 4 + [plan.CREATE, plan.ORPHAN],
                         [s.action for s in guarded])
        self.assertIn('would deactivate or delete 4 copies, more than '
                      '--max-delete 3', refusal)
        self.assertIn('--max-delete 4', refusal)
        self.assertTrue(all(s.reason.startswith(refusal)
                            for s in guarded[:4]))
        self.assertEqual(['c0', 'c1', 'c0', 'c1'],
                         [s.image_id for s in guarded[:4]])

    def test_zero_allows_none(self):
        guarded, refusal = orphans.guard(self.steps(1), 0)
        self.assertEqual([plan.FAIL], [s.action for s in guarded])
        self.assertEqual(orphans.MAX_DELETE, 10)


class OptionsTest(unittest.TestCase):

    def parse(self, *argv):
        command = sync.SyncImages(mock.Mock(), mock.Mock())
        args = list(argv)
        if '--to-all-regions' not in args:
            args += ['--to-region', 'R2']
        return command.get_parser('image sync').parse_args(args)

    def check(self, *argv):
        selection.check_options(self.parse(*argv), PREFIXES)

    def refused(self, *argv):
        with self.assertRaises(exceptions.CommandError) as caught:
            self.check(*argv)
        return str(caught.exception)

    def test_a_selection_is_needed(self):
        self.assertIn('--all syncs every image', self.refused())
        for chosen in (['--all'], ['--tag', 't'], ['--image', 'i'],
                       ['--visibility', 'public'], ['--project', 'p'],
                       ['--name', 'n'], ['--property', 'hw_a=b']):
            self.check(*chosen)
        self.assertIn('give it alone', self.refused('--all', '--tag', 't'))
        self.assertIn('give it alone', self.refused('--all', '--image', 'i'))

    def test_dry_run_needs_no_confirmation(self):
        self.assertIn('add --confirm-delete',
                      self.refused('--tag', 't', '--orphans', 'delete'))
        self.check('--tag', 't', '--orphans', 'delete', '--dry-run')
        self.check('--tag', 't', '--orphans', 'delete', '--confirm-delete')

    def test_image_and_orphans(self):
        for policy in plan.ORPHAN_CHOICES:
            self.assertIn('--image names images that exist', self.refused(
                '--image', 'i', '--orphans', policy, '--dry-run'))

    def test_a_property_copies_do_not_carry(self):
        self.check('--property', 'group=a')
        for policy in ('deactivate', 'delete'):
            message = self.refused('--property', 'group=a', '--orphans',
                                   policy, '--dry-run')
            self.assertIn('do not carry the propert(ies) group', message)
            self.assertIn(f'--orphans {policy} cannot find them', message)
        self.check('--property', 'hw_a=b', '--orphans', 'delete',
                   '--dry-run')

    def test_excluded_regions(self):
        self.assertIn('goes with --to-all-regions', self.refused(
            '--tag', 't', '--exclude-region', 'R3'))
        self.check('--tag', 't', '--to-all-regions', '--exclude-region',
                   'R3', '--exclude-region', 'R4')

    def test_pick_targets(self):
        catalog = ['R1', 'R2', 'R3', 'R4']
        self.assertEqual(['R2', 'R4'],
                         selection.pick_targets(catalog, 'R1', ['R3']))
        self.assertEqual(['R2', 'R3', 'R4'],
                         selection.pick_targets(catalog, 'R1', []))
        with self.assertRaises(exceptions.CommandError) as caught:
            selection.pick_targets(catalog, 'R1', ['R3', 'REGOIN4'])
        self.assertIn('--exclude-region REGOIN4: no such region',
                      str(caught.exception))
        with self.assertRaises(exceptions.CommandError) as caught:
            selection.pick_targets(catalog, 'R1', ['R2', 'R3', 'R4'])
        self.assertIn('every region but the source is excluded',
                      str(caught.exception))


class SourcesTest(unittest.TestCase):

    def test_copies_are_recognised_by_their_provenance(self):
        self.assertTrue(selection.is_copy(copy('c1')))
        self.assertTrue(selection.is_copy(
            {'id': 'i', metadata.SOURCE_REGION_PROPERTY: 'R0'}))
        self.assertFalse(selection.is_copy(test_client_plan.source()))

    def test_copies_are_left_out_unless_asked(self):
        own = test_client_plan.source(id='s1')
        made = dict(own, id='c1')
        made.update(metadata.provenance('R0', 's0'))
        self.assertEqual(([own], [], 1),
                         selection.split_sources([own, made], 'R1'))
        sources, rows, left_out = selection.split_sources(
            [own, made], 'R1', named=True)
        self.assertEqual(([own], 0), (sources, left_out))
        [row] = rows
        self.assertEqual(('c1', 'failed'), (row.source_id, row.outcome))
        self.assertIn('copy of image s0 from region R0', row.message)
        self.assertIn('--include-copies', row.message)
        self.assertEqual(([own, made], [], 0), selection.split_sources(
            [own, made], 'R1', include_copies=True, named=True))

    def test_one_image_named_twice_is_one_source(self):
        first, second = {'id': 'a', 'name': 'x'}, {'id': 'b'}
        self.assertEqual([first, second], selection.unique(
            [first, second, dict(first), second]))


class RefusingRegion(test_client_runner.FakeRegion):
    """Glance refusing to delete some images: {image id: HTTP status}."""

    def __init__(self, region, refused):
        super().__init__(region)
        self.refused = refused

    def delete(self, image_id):
        if image_id in self.refused:
            raise images.GlanceError(
                f'Deleting image {image_id} in region {self.region}: HTTP '
                f'{self.refused[image_id]}: refused', self.refused[image_id],
                'req-refused')
        return super().delete(image_id)


class RefusedDeletionTest(unittest.TestCase):

    def test_in_use_and_protected_are_rows_not_crashes(self):
        copies = [copy('busy'), copy('locked'), copy('c3')]
        region = RefusingRegion('R2', {'busy': 409, 'locked': 403})
        region.images = {c['id']: c for c in copies}
        steps = orphans.orphan_steps(
            'R2', copies, dict.fromkeys(region.images, orphans.GONE),
            'delete')
        rows = test_client_runner.make_runner(region).run(
            [(step, {'id': 'gone'}, None) for step in steps])
        by_image = {row.image_id: row for row in rows}
        for image_id, status in (('busy', 409), ('locked', 403)):
            row = by_image[image_id]
            self.assertEqual(('failed', 'failed'), (row.action, row.outcome))
            self.assertIn(f'HTTP {status}', row.message)
            self.assertIn(image_id, region.images)
        self.assertEqual(('deleted', 'ok'), (by_image['c3'].action,
                                             by_image['c3'].outcome))
        self.assertNotIn('c3', region.images)


class RecordedOwnerTest(unittest.TestCase):

    def test_the_recorded_owner_is_not_managed_metadata(self):
        """A --property-prefix that covers it must not remove it."""
        made = copy('c', owner=ME)
        self.assertEqual((), image_fields.managed_changes(
            test_client_plan.source(), made,
            ['glance_download_'] + PREFIXES))
