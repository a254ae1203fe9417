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

import unittest

from glance_download.client import compare
from glance_download.client import ids
from glance_download.client import image_fields
from glance_download.client import plan
from glance_download import metadata

PREFIXES = ['hw_', 'os_distro']


def source(**extra):
    image = {'id': 'src', 'name': 'base', 'status': 'active', 'size': 10,
             'os_hash_value': 'h1', 'disk_format': 'qcow2',
             'container_format': 'bare', 'min_disk': 1, 'min_ram': 64,
             'tags': ['b', 'a'], 'visibility': 'public',
             'hw_disk_bus': 'virtio', 'os_distro': 'cirros', 'foo': 'bar'}
    image.update(extra)
    return image


def copy(image_id, status='active', os_hash_value='h1', source_id='src',
         **extra):
    image = {'id': image_id, 'status': status, 'os_hash_value': os_hash_value,
             'name': 'base', 'min_disk': 1, 'min_ram': 64,
             'tags': ['a', 'b'], 'hw_disk_bus': 'virtio',
             'os_distro': 'cirros',
             metadata.SOURCE_IMAGE_PROPERTY: source_id,
             metadata.SOURCE_REGION_PROPERTY: 'R1'}
    image.update(extra)
    return image


class CheckRegionsTest(unittest.TestCase):

    def test_unknown_region_lists_the_catalog(self):
        with self.assertRaises(plan.PlanError) as caught:
            plan.check_regions('R1', ['R9'], ['R1', 'R2'])
        self.assertIn('R9', str(caught.exception))
        self.assertIn('R1, R2', str(caught.exception))

    def test_unknown_source_region(self):
        self.assertRaises(plan.PlanError, plan.check_regions, 'R9', ['R2'],
                          ['R1', 'R2'])

    def test_source_equal_to_target(self):
        with self.assertRaises(plan.PlanError) as caught:
            plan.check_regions('R1', ['R2', 'R1'], ['R1', 'R2'])
        self.assertIn('is the source', str(caught.exception))

    def test_target_twice_and_none(self):
        self.assertRaises(plan.PlanError, plan.check_regions, 'R1',
                          ['R2', 'R2'], ['R1', 'R2'])
        self.assertRaises(plan.PlanError, plan.check_regions, 'R1', [],
                          ['R1', 'R2'])

    def test_good_regions(self):
        self.assertIsNone(plan.check_regions('R1', ['R2', 'R3'],
                                             ['R1', 'R2', 'R3']))


class SourceProblemTest(unittest.TestCase):

    def test_active_image_is_fine(self):
        self.assertIsNone(plan.source_problem(source(), 'R1'))

    def test_not_active(self):
        problem = plan.source_problem(source(status='queued'), 'R1')
        self.assertIn("'queued', not 'active'", problem)

    def test_volume_backed_snapshot(self):
        snapshot = source(size=0, disk_format=None, container_format=None,
                          block_device_mapping='[{"source_type": "snap"}]',
                          bdm_v2='True')
        self.assertIn('volume-backed instance',
                      plan.source_problem(snapshot, 'R1'))
        self.assertIn('volume-backed instance', plan.source_problem(
            source(size=0, disk_format=None), 'R1'))

    def test_no_formats(self):
        self.assertIn('has no container_format', plan.source_problem(
            source(container_format=None), 'R1'))

    def test_what_the_method_refuses(self):
        self.assertIn('does not state its size', plan.source_problem(
            source(size=None), 'R1'))
        self.assertIn("its 'tags' is", plan.source_problem(
            source(tags='a'), 'R1'))


class CompareDataTest(unittest.TestCase):
    """Like with like: what decides that a copy holds the source's data."""

    def check(self, source_fields, copy_fields, verified=False):
        found = compare.compare_data(dict(size=10, **source_fields),
                                     dict(size=10, **copy_fields), verified)
        return found.same, found.basis

    def test_the_same_algorithm_compares_os_hash_value(self):
        sha = dict(os_hash_algo='sha512', checksum='m1')
        self.assertEqual((True, 'os_hash_value (sha512)'), self.check(
            dict(sha, os_hash_value='h1'), dict(sha, os_hash_value='h1')))
        self.assertEqual((False, 'os_hash_value (sha512)'), self.check(
            dict(sha, os_hash_value='h1'), dict(sha, os_hash_value='h2')))

    def test_a_legacy_source_compares_md5(self):
        copied = dict(os_hash_algo='sha512', os_hash_value='h1',
                      checksum='m1')
        self.assertEqual((True, 'checksum (md5)'),
                         self.check(dict(checksum='m1'), copied))
        self.assertEqual((False, 'checksum (md5)'),
                         self.check(dict(checksum='m2'), copied))

    def test_another_algorithm_in_the_target_compares_md5(self):
        self.assertEqual((True, 'checksum (md5)'), self.check(
            dict(os_hash_algo='sha512', os_hash_value='h1', checksum='m1'),
            dict(os_hash_algo='sha256', os_hash_value='x', checksum='m1')))

    def test_nothing_in_common_needs_the_import_s_verification(self):
        source_fields = dict(os_hash_algo='sha512', os_hash_value='h1')
        copy_fields = dict(os_hash_algo='sha256', os_hash_value='x')
        self.assertFalse(self.check(source_fields, copy_fields)[0])
        same, basis = self.check(source_fields, copy_fields, verified=True)
        self.assertEqual((True, 'size, and the verification by the import'),
                         (same, basis))

    def test_a_legacy_copy_is_skipped_not_failed(self):
        legacy = source(os_hash_value=None, checksum='m1')
        step = plan.copy_step('R2', legacy, [copy(
            'c1', os_hash_algo='sha512', os_hash_value='h9',
            checksum='m1')])
        self.assertEqual(plan.SKIP, step.action)


class RankTest(unittest.TestCase):

    def test_named_ranks_in_order(self):
        found = [compare.rank(c, source()) for c in (
            copy('a'), copy('i', 'importing'),
            copy('l', 'queued', os_glance_import_task='t'),
            copy('q', 'queued'), copy('x', os_hash_value='h2'),
            copy('d', 'deactivated'), copy('k', 'killed'))]
        self.assertEqual([compare.Rank.VERIFIED, compare.Rank.IMPORTING,
                          compare.Rank.IMPORTING, compare.Rank.PLACEHOLDER,
                          compare.Rank.UNUSABLE, compare.Rank.UNUSABLE,
                          compare.Rank.UNUSABLE], found)


class ReplacementTest(unittest.TestCase):
    """Make before break, and runs that replace at the same time."""

    def test_a_new_copy_takes_the_successor_id_of_the_oldest(self):
        old = copy('o1', created_at='2026-01-01T10:00:00Z')
        other = copy('o2', created_at='2026-01-01T10:00:09Z')
        step = plan.copy_step('R2', source(), [other, old], 'replace')
        self.assertEqual((plan.REPLACE, None, ('o1', 'o2'), 'o1'),
                         (step.action, step.image_id, step.delete,
                          step.replaces))

    def test_a_successor_already_made_is_continued(self):
        old = copy('o1')
        new = copy(ids.successor_ids('o1')[3], 'importing')
        step = plan.copy_step('R2', source(), [old, new], 'replace')
        self.assertEqual((new['id'], ('o1',), 'o1'),
                         (step.image_id, step.delete, step.replaces))

    def test_the_newest_of_a_chain_is_continued(self):
        first = copy('o1')
        second = copy(ids.successor_ids('o1')[0])
        third = copy(ids.successor_ids(second['id'])[0], 'queued')
        found, replaced = plan.replacement([third, first, second])
        self.assertEqual((third['id'], second['id']),
                         (found['id'], replaced))

    def test_no_successor(self):
        self.assertEqual((None, None), plan.replacement([copy('a'),
                                                         copy('b')]))


class UsableCopyTest(unittest.TestCase):

    def test_a_copy_of_the_source_in_the_project(self):
        for status, extra in (('active', {}), ('importing', {}),
                              ('queued', {})):
            self.assertTrue(compare.is_copy_of(
                copy('src', status, owner='p1', **extra), source(), 'R1',
                'p1'), status)

    def test_anything_else(self):
        usable = dict(owner='p1')
        for image in (None, copy('src', **dict(usable, owner='p2')),
                      copy('src', source_id='other', **usable),
                      copy('src', **dict(
                          usable, glance_download_source_region='R3')),
                      copy('src', os_hash_value='h2', **usable),
                      copy('src', 'killed', **usable)):
            self.assertFalse(compare.is_copy_of(image, source(), 'R1', 'p1'),
                             image)


class MethodProblemTest(unittest.TestCase):

    def test_offered(self):
        self.assertIsNone(plan.method_problem(
            'R2', ['glance-direct', 'glance-download']))

    def test_refused_names_what_is_offered(self):
        problem = plan.method_problem('R3', ['glance-direct', 'web-download'])
        self.assertIn('R3 does not offer the glance-download', problem)
        self.assertIn('glance-direct, web-download', problem)


class CopyStepTest(unittest.TestCase):

    def test_no_copy_creates(self):
        self.assertEqual(plan.CREATE, plan.copy_step('R2', source(),
                                                     []).action)

    def test_active_same_hash_is_skipped(self):
        step = plan.copy_step('R2', source(), [copy('c1')])
        self.assertEqual((plan.SKIP, 'c1'), (step.action, step.image_id))

    def test_importing_is_attached(self):
        step = plan.copy_step('R2', source(), [copy('c1', 'importing')])
        self.assertEqual((plan.ATTACH, 'c1'), (step.action, step.image_id))

    def test_queued_with_an_import_accepted_is_attached(self):
        step = plan.copy_step('R2', source(), [
            copy('c1', 'queued', os_glance_import_task='t1')])
        self.assertEqual((plan.ATTACH, 'c1'), (step.action, step.image_id))

    def test_queued_is_imported_again(self):
        step = plan.copy_step('R2', source(), [copy('c1', 'queued')])
        self.assertEqual((plan.REIMPORT, 'c1'), (step.action, step.image_id))

    def test_best_of_several_copies(self):
        copies = [copy('q', 'queued'), copy('i', 'importing'), copy('a')]
        self.assertEqual('a', plan.copy_step('R2', source(),
                                             copies).image_id)
        self.assertEqual('i', plan.copy_step('R2', source(),
                                             copies[:2]).image_id)

    def test_active_with_other_data_fails(self):
        step = plan.copy_step('R2', source(), [copy('c1', os_hash_value='x')])
        self.assertEqual(plan.FAIL, step.action)
        self.assertIn('data differs', step.reason)

    def test_deactivated_copy_fails(self):
        step = plan.copy_step('R2', source(), [copy('c1', 'deactivated')])
        self.assertEqual(plan.FAIL, step.action)
        self.assertIn("'deactivated'", step.reason)

    def test_existing_fail(self):
        step = plan.copy_step('R2', source(), [copy('c1')], existing='fail')
        self.assertEqual(plan.FAIL, step.action)
        self.assertIn('already has a copy', step.reason)
        self.assertEqual(plan.CREATE, plan.copy_step(
            'R2', source(), [], existing='fail').action)

    def test_existing_replace_deletes_every_copy_after(self):
        step = plan.copy_step('R2', source(), [copy('c1'), copy('c2')],
                              existing='replace')
        self.assertEqual((plan.REPLACE, ('c1', 'c2')),
                         (step.action, step.delete))
        self.assertIn('once the new copy is active and verified',
                      step.reason)


class TargetFieldsTest(unittest.TestCase):

    def test_fields_and_provenance(self):
        fields = image_fields.target_fields(source(), 'R1')
        self.assertEqual({
            'name': 'base', 'disk_format': 'qcow2', 'container_format':
            'bare', 'min_disk': 1, 'min_ram': 64, 'tags': ['b', 'a'],
            'visibility': 'private',
            metadata.SOURCE_REGION_PROPERTY: 'R1',
            metadata.SOURCE_IMAGE_PROPERTY: 'src'}, fields)

    def test_name_visibility_same_id_properties(self):
        fields = image_fields.target_fields(
            source(), 'R1', name='other', visibility='shared', same_id=True,
            properties={'hw_disk_bus': 'virtio'})
        self.assertEqual('other', fields['name'])
        self.assertEqual('shared', fields['visibility'])
        self.assertEqual('src', fields['id'])
        self.assertEqual('virtio', fields['hw_disk_bus'])

    def test_the_source_owner_is_recorded(self):
        fields = image_fields.target_fields(source(owner='p1'), 'R1')
        self.assertEqual('p1', fields[metadata.SOURCE_OWNER_PROPERTY])
        fields = image_fields.target_fields(
            source(owner='p1'), 'R1',
            properties={metadata.SOURCE_OWNER_PROPERTY: 'forged'})
        self.assertEqual('p1', fields[metadata.SOURCE_OWNER_PROPERTY])

    def test_provenance_wins_over_properties(self):
        fields = image_fields.target_fields(
            source(), 'R1',
            properties={metadata.SOURCE_IMAGE_PROPERTY: 'forged'})
        self.assertEqual('src', fields[metadata.SOURCE_IMAGE_PROPERTY])


class ManagedChangesTest(unittest.TestCase):

    def test_in_sync(self):
        self.assertEqual((), image_fields.managed_changes(
            source(), copy('c'), PREFIXES))

    def test_drift(self):
        drifted = copy('c', name='renamed', min_ram=0, tags=['a'],
                       hw_disk_bus='ide', hw_extra='1', foo='kept')
        del drifted['os_distro']
        ops = image_fields.managed_changes(source(), drifted, PREFIXES)
        self.assertEqual([
            {'op': 'replace', 'path': '/name', 'value': 'base'},
            {'op': 'replace', 'path': '/min_ram', 'value': 64},
            {'op': 'replace', 'path': '/tags', 'value': ['a', 'b']},
            {'op': 'replace', 'path': '/hw_disk_bus', 'value': 'virtio'},
            {'op': 'add', 'path': '/os_distro', 'value': 'cirros'},
            {'op': 'remove', 'path': '/hw_extra'},
        ], list(ops))

    def test_provenance_is_not_managed(self):
        self.assertEqual((), image_fields.managed_changes(
            source(), copy('c'), ['glance_download_', 'hw_', 'os_distro']))


class SyncStepsTest(unittest.TestCase):

    def test_missing_in_sync_drifted_failed(self):
        sources = [source(id='s1'), source(id='s2'), source(id='s3'),
                   source(id='s4')]
        copies = [copy('c2', source_id='s2'),
                  copy('c3', source_id='s3', name='old'),
                  copy('c4', 'queued', source_id='s4')]
        steps = plan.sync_steps(sources, copies, 'R2', PREFIXES)
        self.assertEqual(
            [(plan.CREATE, None), (plan.SKIP, 'c2'), (plan.UPDATE, 'c3'),
             (plan.REIMPORT, 'c4')],
            [(s.action, s.image_id) for s in steps])
        self.assertEqual('in sync', steps[1].reason)
        self.assertIn('name', steps[2].reason)

    def test_copies_of_unselected_sources_are_left_alone(self):
        steps = plan.sync_steps([source(id='s1')],
                                [copy('c9', source_id='other')], 'R2',
                                PREFIXES)
        self.assertEqual([plan.CREATE], [s.action for s in steps])


class ExitCodeTest(unittest.TestCase):

    def test_codes(self):
        self.assertEqual(plan.EXIT_OK, plan.exit_code([]))
        self.assertEqual(plan.EXIT_OK, plan.exit_code(['ok', 'ok']))
        self.assertEqual(plan.EXIT_PARTIAL,
                         plan.exit_code(['ok', 'failed']))
        self.assertEqual(plan.EXIT_ERROR,
                         plan.exit_code(['failed', 'failed']))
        self.assertEqual(plan.EXIT_TIMEOUT,
                         plan.exit_code(['ok', 'failed', 'timeout']))

    def test_codes_are_distinct_from_usage_errors(self):
        codes = {plan.EXIT_OK, plan.EXIT_ERROR, plan.EXIT_PARTIAL,
                 plan.EXIT_TIMEOUT}
        self.assertEqual(4, len(codes))
        self.assertNotIn(2, codes)
