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

"""Configuration options of the glance-download plugin.

Our own settings live in ``[glance_download]``.  The property prefixes are
read from ``[glance_download_properties] extra_properties``, the option
operators already set for Glance's in-tree method; Glance registers it
itself, so we only register it when it is not there yet.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_config import types

from glance_download import autotune

from glance_download import metadata

GROUP = 'glance_download'
PROPERTIES_GROUP = 'glance_download_properties'

DEFAULT_PREFIXES = metadata.DEFAULT_PREFIXES

# An image record is a few KiB; Glance's own property quota keeps it far
# below this.
DEFAULT_RECORD_SIZE = 1024 * 1024

transfer_opts = [
    cfg.StrOpt('implementation', default='plugin',
               choices=[('plugin', 'this package'),
                        ('in-tree', "Glance's own glance-download method")],
               help='Which implementation serves the glance-download import '
                    'method. Glance 25 and later ship one of their own under '
                    'the same plugin name; while this package is installed, '
                    'Glance uses this one unless this option says in-tree. '
                    'Changing it needs a restart of glance-api.'),

    cfg.FloatOpt('connect_timeout', default=10.0, min=0.1,
                 help='Seconds to wait for a TCP (and TLS) connection to '
                      'the remote Glance before the attempt counts as '
                      'failed.'),
    cfg.FloatOpt('read_timeout', default=60.0, min=0.1,
                 help='Seconds the remote Glance may stay silent, while '
                      'answering or while streaming data, before the attempt '
                      'counts as failed and is retried or resumed.'),
    cfg.IntOpt('max_attempts', default=5, min=1,
               help='Attempts for each remote request, the first included. '
                    'A broken download resumes from the byte reached, and '
                    'each resume uses one attempt. Connection errors, '
                    'timeouts, HTTP 5xx and 429 are retried; other answers '
                    'are not.'),
    cfg.FloatOpt('retry_delay', default=1.0, min=0.0,
                 help='Seconds to wait before the first retry; the wait '
                      'doubles after each failed attempt up to '
                      'retry_max_delay. A Retry-After header from the remote '
                      'is obeyed within the same bound.'),
    cfg.FloatOpt('retry_max_delay', default=30.0, min=0.0,
                 help='Upper bound, in seconds, of the wait between two '
                      'attempts.'),
    cfg.IntOpt('chunk_size', default=1024 * 1024,
               min=64 * 1024, max=64 * 1024 * 1024,
               help='Bytes read from the network, hashed and written to the '
                    'staging area at a time. Memory used by one import is a '
                    'small multiple of this value, whatever the image '
                    'size.'),
    cfg.FloatOpt('progress_interval', default=5.0, min=0.5,
                 help='Seconds between two updates of the import task\'s '
                      'message with the bytes copied, the total, the '
                      'percentage and the throughput. The first update '
                      'comes one second into the download, or after this '
                      'many seconds if fewer. Each update also '
                      'checks that the task is still processing and the '
                      'target image still exists, and stops the download '
                      'if not.'),
    cfg.IntOpt('max_redirects', default=3, min=0,
               help='HTTP redirects followed for one request. A redirect '
                    'to another scheme, host or port than the catalog '
                    'endpoint is followed without the user\'s or the '
                    'service\'s token, and only if it passes '
                    '[import_filtering_opts].'),
    cfg.BoolOpt('record_provenance', default=True,
                help='Record the source region and source image id on the '
                     'target image, in the properties '
                     'glance_download_source_region and '
                     'glance_download_source_image_id.'),
    cfg.BoolOpt('reuse_local_copies', default=True,
                help='Before downloading, look in this Glance for an active '
                     'image with the source\'s os_hash_algo, '
                     'os_hash_value and size that the user who asked for '
                     'the import may list and download, with their own '
                     'request context; when there is one, copy its data '
                     'from this region\'s stores into staging instead of '
                     'over the link, and verify it against the source\'s '
                     'digest as any download is. An image that cannot be '
                     'read or whose data differs is skipped, and the data '
                     'is downloaded from the source region after all. '
                     'Turn off to always download.'),
    cfg.BoolOpt('send_service_token', default=False,
                help='Send an X-Service-Token header, obtained with the '
                     'service credentials named by auth_type/auth_section '
                     'in this group (for example auth_section = '
                     'keystone_authtoken), along with the user\'s token. A '
                     'remote Glance whose keystonemiddleware accepts '
                     'expired user tokens together with a valid service '
                     'token can then serve imports that outlive the user\'s '
                     'token.'),
    cfg.IntOpt('max_record_size', default=DEFAULT_RECORD_SIZE,
               min=4096, max=64 * 1024 * 1024,
               help='Largest source image record, in bytes, read from the '
                    'remote Glance. The record is read uncompressed '
                    '(Accept-Encoding: identity) and a larger one fails the '
                    'import before it is held in memory whole. The whole '
                    'record must arrive within read_timeout seconds.'),
    cfg.FloatOpt('heartbeat_interval', default=30.0, min=0.5,
                 help='Seconds between two writes to the import task that '
                      'show the import is alive, from the moment Glance '
                      'builds the import until its task ends, whatever it '
                      'is doing: reading the source, waiting to retry, '
                      'waiting for data, or Glance\'s own steps. '
                      'stale_after must be at least five times this '
                      'value.'),
    cfg.FloatOpt('stale_after', default=900.0, min=5.0,
                 help='Seconds without any write to a processing '
                      'glance-download task after which its import is '
                      'taken for dead (its glance-api was killed, ran out '
                      'of memory or its node rebooted): the task is failed, '
                      'the image queued again and its staged data removed, '
                      'so that the import can be requested again. At least '
                      'five times heartbeat_interval; a smaller value is '
                      'raised to that. Clocks of glance-api nodes must '
                      'agree to well within it.'),
    cfg.FloatOpt('recovery_interval', default=60.0, min=1.0,
                 help='Seconds between two looks, by each glance-api '
                      'process that runs the recovery, for imports dead '
                      'for stale_after seconds and for partial downloads '
                      'whose image is deleted or no longer importing. A '
                      'dead import is recovered at most stale_after + '
                      'recovery_interval seconds after its last '
                      'heartbeat, once a glance-api runs again.'),
]

MAX_STREAMS = 64


class StreamCount(types.ConfigType):
    """``auto``, or a number of streams from 1 to :data:`MAX_STREAMS`."""

    def __init__(self):
        super().__init__(type_name=f'auto or integer 1-{MAX_STREAMS}')

    def __call__(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().lower()
            if text == autotune.AUTO:
                return autotune.AUTO
            try:
                number = int(text)
            except ValueError:
                raise ValueError(f'{value!r} is neither auto nor an integer')
        if not 1 <= number <= MAX_STREAMS:
            raise ValueError(f'{number} is not between 1 and {MAX_STREAMS}')
        return number

    def __repr__(self):
        return 'StreamCount'

    def __eq__(self, other):
        return self.__class__ == other.__class__

    def _formatter(self, value):
        return str(value)


# How the data is moved: streams, segments and the limits of a transfer.
engine_opts = [
    cfg.Opt('parallel_streams', type=StreamCount(), default=autotune.AUTO,
            help='Ranged streams one import downloads its image over at '
                 'once. Over a link with a long round trip, one TCP '
                 'stream carries far less than the link can; several '
                 'carry it all. auto starts with '
                 f'{autotune.Settings.start} streams, doubles them while '
                 'that raises the throughput by more than '
                 f'{autotune.Settings.gain:.0%}, goes down to fewer when '
                 'fewer carry as much, and stays at most at '
                 f'{autotune.Settings.ceiling}; a number fixes the count, '
                 'and 1 downloads over a single stream. An image smaller '
                 'than two min_split_size, or a source that ignores Range, '
                 'is downloaded over one stream whatever this says, and a '
                 'source that answers 429 or 503 to an extra stream gets '
                 'fewer.'),
    cfg.IntOpt('segment_size', default=64 * 1024 * 1024,
               min=256 * 1024,
               help='Bytes of the image each ranged request asks for at '
                    'first when parallel_streams is not 1. Each segment is '
                    'resumed and retried on its own, and split when a '
                    'stream has nothing left to claim. Where Glance\'s '
                    'store step reads the data of a far source as it '
                    'arrives (overlap_store_writes), segments are at most '
                    '16 MiB, so that the data written in order stays close '
                    'behind the streams.'),
    cfg.IntOpt('min_split_size', default=4 * 1024 * 1024,
               min=64 * 1024,
               help='Fewest bytes of a segment a stream with nothing left '
                    'to claim takes over: it takes the second half of the '
                    'remaining bytes of the largest segment outstanding, '
                    'if each half gets at least this many (and at least '
                    'chunk_size). Smaller values keep more streams busy '
                    'on small images and at the end of a download; each '
                    'split costs a request.'),
    cfg.IntOpt('process_streams', default=32, min=1,
               help='Streams one glance-api process keeps open at once, '
                    'over all its imports, so that the source Glance is not '
                    'flooded. An import always gets one stream, waiting for '
                    'it if need be, and extra streams only while the total '
                    'is below this.'),
    cfg.IntOpt('min_rate', default=1024, min=0,
               help='Bytes per second below which a stream counts as '
                    'broken, measured over min_rate_period: it is then '
                    'resumed like a stream cut short, and a source that '
                    'keeps trickling uses up max_attempts. 0 turns the rule '
                    'off.'),
    cfg.FloatOpt('min_rate_period', default=60.0, min=1.0,
                 help='Seconds over which min_rate is measured.'),
    cfg.FloatOpt('download_timeout', default=0.0, min=0.0,
                 help='Seconds a whole download may take before the import '
                      'fails; 0 sets no bound. Size it for the largest '
                      'image over the slowest link.'),
    cfg.BoolOpt('overlap_store_writes', default=True,
                help='Let Glance write the target store while the data '
                     'still arrives, instead of after the last byte: the '
                     'import then takes about as long as the longer of the '
                     'download and the store step, not their sum. The '
                     'store never gets the end of the data before every '
                     'byte is verified, so nothing unverified becomes '
                     'active. Imports whose import plugins read the staged '
                     'file (image_conversion, image_decompression) wait '
                     'for the last byte whatever this says.'),
]

# TLS settings under the names keystoneauth1 gives them in every OpenStack
# service (cafile, certfile, keyfile, insecure), with help of our own.
tls_opts = [
    cfg.StrOpt('cafile',
               help='PEM file of the certificate authorities used to verify '
                    'the remote Glance\'s HTTPS certificate. When unset, '
                    'the CA bundle of the requests library is used (the '
                    'certifi package\'s, as packaged), not the system\'s '
                    'trusted authorities; with trust_env, '
                    'REQUESTS_CA_BUNDLE overrides it.'),
    cfg.StrOpt('certfile',
               help='PEM client certificate presented to the remote Glance, '
                    'for deployments that require TLS client '
                    'authentication.'),
    cfg.StrOpt('keyfile',
               help='PEM private key of certfile, when it is not in '
                    'certfile itself.'),
    cfg.BoolOpt('insecure', default=False,
                help='Do not verify the remote Glance\'s HTTPS certificate. '
                     'Tokens can then be intercepted; use only for '
                     'testing. Each import then logs a warning naming the '
                     'region.'),
    cfg.BoolOpt('trust_env', default=False,
                help='Let the environment of glance-api apply to the '
                     'connections to remote Glances: proxies from '
                     'HTTP_PROXY, HTTPS_PROXY and NO_PROXY, credentials '
                     'from ~/.netrc, and REQUESTS_CA_BUNDLE. Off by '
                     'default, so that neither a proxy nor .netrc '
                     'credentials meant for other tools see the user\'s '
                     'token or go to a remote Glance. With a proxy, the '
                     'address import filtering validated is not the one '
                     'connected to.'),
]


extra_properties_opt = cfg.ListOpt(
    'extra_properties',
    item_type=cfg.types.String(quotes=True),
    bounds=True,
    default=DEFAULT_PREFIXES,
    help='Prefixes of the source image properties copied to the target '
         'image. A property is copied when its name starts with one of '
         'them. Core and reserved attributes (os_glance_*, os_hash_*, id, '
         'owner, visibility, status, size, checksum, locations, timestamps '
         'and the like) are never copied, whatever the prefixes. This is '
         'the option Glance\'s in-tree glance-download method reads too.')


def register_opts(conf):
    """Register every option we read; safe to call more than once.

    Glance registers ``[glance_download_properties] extra_properties`` with
    its own help text, which makes oslo.config refuse ours as a duplicate:
    the host's definition is then kept, the value read is the same.
    """
    conf.register_opts(transfer_opts, group=GROUP)
    conf.register_opts(engine_opts, group=GROUP)
    conf.register_opts(tls_opts, group=GROUP)
    conf.register_opts(ks_loading.get_auth_common_conf_options(), group=GROUP)
    try:
        conf.register_opt(extra_properties_opt, group=PROPERTIES_GROUP)
    except cfg.DuplicateOptError:
        pass


def list_opts():
    """Options for oslo-config-generator (the oslo.config.opts entry point)."""
    return [
        (GROUP, transfer_opts + engine_opts + tls_opts
         + ks_loading.get_auth_common_conf_options()),
        (PROPERTIES_GROUP, [extra_properties_opt]),
    ]
