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

"""The target image's metadata: Glance's reserved names, copy and restore.

The formats and properties are changed through the action wrapper Glance
gave the import, and Glance's refusals (quota, property protections,
policy) become this plugin's errors, with a message that says what to do.
"""

import contextlib
import functools
import logging

from glance.api import common as api_common
from glance.api.v2 import images as v2_images
from glance.common import exception as glance_exc
from glance import domain

from glance_download.boundary import config
from glance_download import errors

LOG = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def reserved_names():
    """(names, prefixes) Glance keeps for itself, from its own lists.

    The API's lists of read-only, reserved and disallowed names, the
    attributes of its image schema, the domain's reserved names, and its
    reserved namespace (``os_glance``).  Any list a Glance release lacks
    is skipped: the plugin keeps a floor of its own.
    """
    deserializer = v2_images.RequestDeserializer
    names = set(v2_images.get_base_properties())
    for holder, lists in (
            (deserializer, ('_disallowed_properties', '_readonly_properties',
                            '_reserved_properties', '_base_properties')),
            (domain.ImageFactory, ('_readonly_properties',
                                   '_reserved_properties'))):
        for attr in lists:
            names.update(getattr(holder, attr, ()))
    prefixes = set(getattr(deserializer, '_reserved_namespaces', ()))
    prefixes.add(api_common.GLANCE_RESERVED_NS)
    return frozenset(names), tuple(sorted(prefixes))


@contextlib.contextmanager
def metadata_refusals(copied):
    """Turn Glance refusing the metadata of ``copied`` properties into ours.

    Glance's quota, property protections and policy raise their own
    exceptions while the image is changed or saved; any of them would
    otherwise end the import as "Internal Error".
    """
    try:
        yield
    except glance_exc.ImagePropertyLimitExceeded as exc:
        raise errors.MetadataRefused(
            f'Copying {copied} properties from the source image would give '
            'the target image more properties than this Glance allows: '
            '[DEFAULT] image_property_quota is '
            f'{config.CONF.image_property_quota} '
            f'({exc.msg}). Nothing was changed. Remove properties from the '
            'target image, or ask your cloud operator to raise '
            'image_property_quota or to copy fewer properties '
            '([glance_download_properties] extra_properties), and import '
            'again.') from None
    except glance_exc.NotFound:
        raise errors.Aborted('The target image was deleted; the import '
                             'stopped.') from None
    except glance_exc.TaskAbortedError:
        raise errors.Aborted('Another import took over the target image; '
                             'this import stopped.') from None
    except (glance_exc.Forbidden, glance_exc.Invalid,
            glance_exc.LimitExceeded) as exc:
        raise errors.MetadataRefused(
            "This Glance refused the source image's metadata for the target "
            f"image: {_sentence(exc.msg)} Nothing was changed. Ask your cloud "
            "operator which properties may be set (property protections, "
            "policy), and import again.") from None


def _sentence(text):
    text = str(text).strip()
    return text if text.endswith('.') else text + '.'


def copy_metadata(action_wrapper, disk_format, container_format, props):
    """Set the formats and ``props`` on the target image.

    Returns what they replace, as plain data for restore_metadata: the
    formats and each property's former value, None where it had none.
    A refusal by Glance leaves nothing changed and raises ours.
    """
    with metadata_refusals(len(props)), action_wrapper as action:
        current = action.image_extra_properties
        saved = {
            'disk_format': action.image_disk_format,
            'container_format': action.image_container_format,
            'properties': {name: current.get(name) for name in props},
        }
        action.set_image_attribute(disk_format=disk_format,
                                   container_format=container_format)
        action.set_image_extra_properties(props)
    return saved


def restore_image(action_wrapper, change):
    """Apply ``change(action)`` to the image during a revert, if still ours.

    A revert must not fail because the user deleted the image or another
    import holds it: there is then nothing of ours left to restore.
    """
    try:
        with action_wrapper as action:
            change(action)
    except (glance_exc.NotFound, glance_exc.TaskAbortedError) as exc:
        LOG.warning('Image %s could not be restored after a failed import: '
                    '%s', action_wrapper.image_id, type(exc).__name__)


def restore_metadata(action_wrapper, saved):
    """Put back what copy_metadata returned it had replaced."""
    def change(action):
        action.set_image_attribute(
            disk_format=saved['disk_format'],
            container_format=saved['container_format'])
        for name, value in saved['properties'].items():
            if value is None:
                action.pop_extra_property(name)
        action.set_image_extra_properties(
            {name: value for name, value in saved['properties'].items()
             if value is not None})
    restore_image(action_wrapper, change)


def mark_failed(action_wrapper, stores):
    """Image back to ``queued``; its importing stores now failed stores.

    Glance allows ``importing -> queued`` only: another revert may have
    queued the image already, and ``queued -> queued`` is refused.
    """
    def change(action):
        if action.image_status == 'importing':
            action.set_image_attribute(status='queued')
        action.remove_importing_stores(stores)
        action.add_failed_stores(stores)
    restore_image(action_wrapper, change)
