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

"""Copies whose source image is gone, for ``image sync``: pure decisions.

Glance answers 404 for an image that was deleted and for one the caller
may no longer see (unshared, made private): the two look the same. A copy
is deleted or deactivated only where 404 can mean nothing but deleted:
its source was the caller's project's own image (an owner always sees its
images; the copy records the source's owner when it is created), or the
caller is an admin, who sees every image. Anything else is reported as
"source not visible" and left as it is.
"""

import dataclasses

from glance_download.client import plan
from glance_download import metadata

# What is known of a copy's source image.
PRESENT = 'present'
GONE = 'gone'
HIDDEN = 'not visible'

# --max-delete by default: copies deleted or deactivated in one run.
MAX_DELETE = 10

_POLICY = {'report': plan.ORPHAN, 'deactivate': plan.DEACTIVATE,
           'delete': plan.DELETE}
_VERB = {plan.DEACTIVATE: 'deactivate', plan.DELETE: 'delete'}
_HIDDEN = ('source not visible: your project cannot see the source image. '
           'It may be deleted, or no longer shared with you: nothing was '
           'changed. Its owner, or an admin, can tell which.')


def matches(image, tags=(), properties=(), name=None, project=None,
            visibility=None):
    """Whether image has every tag, every (key, value), name and the rest.

    A copy carries its source's name, tags and managed properties, its
    visibility unless told otherwise, and the source's owner in its
    provenance: the filters that selected the sources tell which copies
    are theirs. A copy that does not record its source's owner matches no
    --project.
    """
    return (set(tags) <= set(image.get('tags') or ())
            and all(image.get(k) == v for k, v in properties)
            and (name is None or image.get('name') == name)
            and (project is None or
                 image.get(metadata.SOURCE_OWNER_PROPERTY) == project)
            and (visibility in (None, 'all') or
                 image.get('visibility') == visibility))


def orphan_candidates(copies, known, tags=(), properties=(), name=None,
                      project=None, visibility=None):
    """Source ids that copies matching the selection's filters name.

    known: ids of the source region's images this run saw, which exist:
    whether the others still exist is for the caller to ask.
    """
    return sorted({c.get(metadata.SOURCE_IMAGE_PROPERTY) for c in copies
                   if matches(c, tags, properties, name, project,
                              visibility)}
                  - set(known) - {None})


def unmatched_properties(properties, prefixes):
    """The --property keys that copies never carry.

    A copy gets only the properties under a --property-prefix (its managed
    metadata), and its own provenance: a selection by any other key cannot
    tell which copies came from the images it selects.
    """
    return sorted({key for key, value in properties
                   if key in metadata.PROVENANCE_PROPERTIES
                   or not metadata.properties_to_copy({key: value},
                                                      prefixes)})


def source_state(copy, found, project_id, is_admin=False):
    """PRESENT, GONE or HIDDEN: what a 404 for copy's source means.

    found: whether the caller can see the source image.
    """
    if found:
        return PRESENT
    if is_admin or (project_id and copy.get(
            metadata.SOURCE_OWNER_PROPERTY) == project_id):
        return GONE
    return HIDDEN


def orphan_steps(region, copies, states, policy='report'):
    """The steps for region's copies whose source is not present.

    states: {copy id: its source_state}; policy: --orphans. A copy whose
    source is not visible is only reported, whatever the policy.
    """
    action = _POLICY[policy]
    steps = []
    for copy in sorted(copies, key=lambda c: (
            c.get(metadata.SOURCE_IMAGE_PROPERTY) or '', c['id'])):
        state = states.get(copy['id'], PRESENT)
        source_id = copy.get(metadata.SOURCE_IMAGE_PROPERTY)
        if state == PRESENT:
            continue
        if state == HIDDEN:
            steps.append(plan.Step(region, plan.ORPHAN, source_id,
                                   copy['id'], copy=copy, reason=_HIDDEN))
            continue
        this, reason = action, f'its source image {source_id} is gone'
        if this == plan.DEACTIVATE and copy.get('status') == 'deactivated':
            this = plan.ORPHAN
        elif this == plan.DELETE and copy.get('protected'):
            this = plan.ORPHAN
            reason += (': the copy is protected, and Glance refuses to '
                       'delete it. Not deleted; unset protected to let it '
                       'be deleted.')
        steps.append(plan.Step(region, this, source_id, copy['id'],
                               copy=copy, reason=reason))
    return steps


def guard(steps, max_delete=MAX_DELETE):
    """(steps, refusal): none deletes or deactivates if too many would.

    Beyond max_delete copies deleted or deactivated in the whole run,
    each of those steps fails instead, and refusal says how many and how
    to allow it ('' when the guard holds); every other step stays as it
    is. (rsync's --max-delete.)
    """
    risky = [s for s in steps if s.action in _VERB]
    if len(risky) <= max_delete:
        return list(steps), ''
    verbs = ' or '.join(sorted({_VERB[s.action] for s in risky}))
    refusal = (f'Not done: this run would {verbs} {len(risky)} copies, more '
               f'than --max-delete {max_delete}, so none was. Check them '
               f'with --dry-run, then allow it with --max-delete '
               f'{len(risky)}.')
    return [dataclasses.replace(s, action=plan.FAIL, reason=(
        f'{refusal} ({s.reason})')) if s.action in _VERB else s
        for s in steps], refusal
