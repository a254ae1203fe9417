#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

import unittest

from requests.structures import CaseInsensitiveDict

from glance_download import errors
from glance_download import ranges


class PlanResumeTest(unittest.TestCase):

    SIZE = 1000

    def plan(self, status, offset, **headers):
        headers = CaseInsensitiveDict(
            {k.replace('_', '-'): v for k, v in headers.items()})
        return ranges.plan_resume(status, headers, offset, self.SIZE)

    def test_full_answers(self):
        self.assertIs(ranges.Plan.APPEND, self.plan(200, 0))
        self.assertIs(ranges.Plan.APPEND,
                      self.plan(200, 0, Content_Length='1000'))
        self.assertIs(ranges.Plan.RESTART, self.plan(200, 400))
        self.assertIs(ranges.Plan.APPEND,
                      self.plan(200, 0, Content_Encoding='identity'))

    def test_full_answer_of_another_length(self):
        self.assertRaises(errors.VerificationError, self.plan, 200, 0,
                          Content_Length='999')
        self.assertRaises(errors.VerificationError, self.plan, 200, 400,
                          Content_Length='1001')

    def test_partial_answers(self):
        self.assertIs(ranges.Plan.APPEND,
                      self.plan(206, 400, Content_Range='bytes 400-999/1000'))
        self.assertIs(ranges.Plan.APPEND,
                      self.plan(206, 400, Content_Range='bytes 400-599/1000'))
        self.assertIs(ranges.Plan.APPEND,
                      self.plan(206, 400, Content_Range='bytes 400-999/*'))
        self.assertIs(ranges.Plan.APPEND,
                      self.plan(206, 0, Content_Range='bytes 0-999/1000'))

    def test_partial_answer_elsewhere(self):
        self.assertIs(ranges.Plan.REFETCH,
                      self.plan(206, 400, Content_Range='bytes 0-999/1000'))
        self.assertIs(ranges.Plan.REFETCH,
                      self.plan(206, 400, Content_Range='bytes 500-999/1000'))
        self.assertRaises(errors.TransferError, self.plan, 206, 0,
                          Content_Range='bytes 10-999/1000')

    def test_partial_answer_of_another_total(self):
        self.assertRaises(errors.VerificationError, self.plan, 206, 400,
                          Content_Range='bytes 400-1099/1100')
        self.assertRaises(errors.VerificationError, self.plan, 206, 400,
                          Content_Range='bytes 400-1099/*')

    def test_nonsensical_partial_answers(self):
        for value in (None, '', 'bytes 400-/1000', 'bytes 500-400/1000',
                      'bytes 400-1000/1000', 'items 400-999/1000'):
            with self.subTest(value=value):
                self.assertRaises(errors.TransferError, self.plan, 206, 400,
                                  Content_Range=value)

    def test_range_not_satisfiable(self):
        self.assertRaises(errors.VerificationError, self.plan, 416, 400,
                          Content_Range='bytes */400')
        self.assertRaises(errors.VerificationError, self.plan, 416, 400)
        self.assertRaises(errors.TransferError, self.plan, 416, 0)

    def test_other_statuses(self):
        for status in (201, 204, 304, 400, 404, 418):
            self.assertRaises(errors.TransferError, self.plan, status, 0)

    def test_encoded_body(self):
        self.assertRaises(errors.TransferError, self.plan, 200, 0,
                          Content_Encoding='gzip')

    def test_request_range(self):
        self.assertIsNone(ranges.request_range(0))
        self.assertEqual('bytes=400-', ranges.request_range(400))
        self.assertEqual('bytes=0-99', ranges.request_range(0, 100))
        self.assertEqual('bytes=400-499', ranges.request_range(400, 500))

    def test_parse_content_range(self):
        self.assertEqual((0, 9, 10),
                         ranges.parse_content_range('bytes 0-9/10'))
        self.assertEqual((5, 9, None),
                         ranges.parse_content_range(' Bytes 5-9/* '))
        for value in (None, '', 'bytes */10', 'bytes 9-5/10',
                      'bytes 0-10/10', 'bytes=0-9/10'):
            self.assertIsNone(ranges.parse_content_range(value), value)


class UseAnswerTest(unittest.TestCase):

    Plan = ranges.Plan
    Use = ranges.Use

    def use(self, status, plan, multi=False, alone=False, mine=False):
        return ranges.use_answer(status, plan, multi, alone, mine)

    def test_one_stream_continues_its_answer(self):
        self.assertIs(self.Use.CONTINUE, self.use(200, self.Plan.APPEND))
        self.assertIs(self.Use.CONTINUE, self.use(206, self.Plan.APPEND))

    def test_one_stream_restarts_on_the_whole_image_again(self):
        self.assertIs(self.Use.RESTART, self.use(200, self.Plan.RESTART))
        self.assertIs(self.Use.RESTART,
                      self.use(200, self.Plan.RESTART, alone=True, mine=True))

    def test_one_stream_refetches_another_range(self):
        self.assertIs(self.Use.REFETCH, self.use(206, self.Plan.REFETCH))

    def test_a_range_among_several_streams_shows_ranges_are_served(self):
        self.assertIs(self.Use.RANGES,
                      self.use(206, self.Plan.APPEND, multi=True))

    def test_another_range_among_several_streams_is_asked_again(self):
        self.assertIs(self.Use.ELSEWHERE,
                      self.use(206, self.Plan.REFETCH, multi=True))

    def test_the_whole_image_to_a_ranged_request_is_taken_over(self):
        for plan in (self.Plan.APPEND, self.Plan.RESTART):
            with self.subTest(plan=plan):
                self.assertIs(self.Use.TAKE_OVER,
                              self.use(200, plan, multi=True))
        # Another stream took it first: this one's turn to try, and fail.
        self.assertIs(self.Use.TAKE_OVER,
                      self.use(200, self.Plan.APPEND, alone=True))

    def test_the_stream_that_took_the_image_over_goes_on(self):
        self.assertIs(self.Use.CONTINUE,
                      self.use(200, self.Plan.APPEND, alone=True, mine=True))
