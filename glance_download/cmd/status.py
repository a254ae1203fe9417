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

"""glance-download-status: is this Glance ready to serve glance-download?

Run with Glance's Python and Glance's configuration files, it reads the
configuration the way glance-api does and reports, one check per line, the
implementation Glance will load, whether the method is enabled, the staging
area, import filtering, the regions the service catalog lists image
endpoints for, our own settings, and imports left behind by a glance-api
that stopped. It exits 0 when no check failed. ``--repair`` first
recovers those imports, as glance-api itself does after stale_after.

Checks that cannot be made (Keystone unreachable, no service credentials)
are reported as unknown and do not fail the command: the method itself
uses each user's own catalog, not the service's.

Each check is a function of the configuration and of what it is handed
(the service catalog, read once; the database), registered once in CHECKS
with its name and title, in the shape of oslo.upgradecheck's commands. Our
report keeps its own statuses, texts and exit status.
"""

import contextlib
import dataclasses
import importlib.metadata
import json
import logging
import os
import pwd
import shutil
import sys
import typing

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from stevedore import named

from glance_download.boundary import config
from glance_download.boundary import config_files
from glance_download.boundary import filtering
from glance_download.boundary import repositories
from glance_download.boundary import staging
from glance_download.boundary import takeover
from glance_download import credentials
from glance_download import endpoint
from glance_download import errors
from glance_download import options
from glance_download import plugin
from glance_download import progress
from glance_download import protocol
from glance_download import recovery
from glance_download import sweep
from glance_download import urls

CONF = config.CONF

DISTRIBUTION = 'glance-download'
METHOD = protocol.METHOD
OURS = f'{plugin.get_flow.__module__}:{plugin.get_flow.__name__}'
AUTHTOKEN_GROUP = 'keystone_authtoken'
FILTER_GROUP = 'import_filtering_opts'
FILTER_OPTS = ('allowed_schemes', 'disallowed_schemes', 'allowed_hosts',
               'disallowed_hosts', 'allowed_ports', 'disallowed_ports')
KEYSTONE_TIMEOUT = 10.0

OK, WARN, FAIL, UNKNOWN = 'ok', 'warn', 'fail', 'unknown'

cli_opts = [
    cfg.BoolOpt('json', default=False,
                help='Print the checks as one JSON document.'),
    cfg.BoolOpt('repair', default=False,
                help='First recover the imports whose glance-api stopped '
                     '(failed task, image queued, staged data removed, '
                     'lock released) and remove orphan part files, as '
                     'glance-api does by itself after stale_after.'),
]


@dataclasses.dataclass
class Result:
    """What one check found, and what to change when it is not OK."""

    status: str
    summary: str
    fix: str = ''
    details: list = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class Check(Result):
    """A result under its check's name and title, as printed and as JSON."""

    name: str
    title: str


class Unknown(Exception):
    """A check that could not be made; the message says why."""

    def __init__(self, message, fix='', details=()):
        super().__init__(message)
        self.fix = fix
        self.details = list(details)


def _version():
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def _shown(value):
    """An option value as an operator would write it."""
    if isinstance(value, (list, tuple)):
        return f"[{','.join(str(item) for item in value)}]"
    return '(not set)' if value is None else str(value)


def _masked(value):
    """``value`` with every user:password@ of a URL in it masked."""
    if isinstance(value, str):
        return urls.mask_userinfo(value)
    if isinstance(value, (list, tuple)):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return value


def _shown_check(check):
    """The check as it may be printed: no userinfo in any of its texts."""
    return dataclasses.replace(
        check, summary=_masked(check.summary), fix=_masked(check.fix),
        details=_masked(check.details), data=_masked(check.data))


# 1. Implementation

def _entry_points():
    return [ep for ep in importlib.metadata.entry_points(
        group=takeover.PLUGIN_NAMESPACE) if ep.name == takeover.PLUGIN_NAME]


def _describe_entry_point(ep):
    dist = getattr(ep, 'dist', None)
    origin = f' ({dist.name} {dist.version})' if dist else ''
    return f'{ep.name} = {ep.value}{origin}'


def _loaded_function():
    """The get_flow Glance obtains for glance_download, loaded as it does."""
    manager = named.NamedExtensionManager(
        takeover.PLUGIN_NAMESPACE, names=[takeover.PLUGIN_NAME],
        name_order=True, invoke_on_load=False)
    if not manager.extensions:
        return None
    found = manager.extensions[0].plugin
    return f'{found.__module__}:{found.__qualname__}'


def check_implementation(conf):
    """Which get_flow Glance ends up with, proven by loading it as Glance.

    Both glance_download entry points are listed; our claim is applied
    first, as our get_flow applies it when Glance first calls it.
    """
    eps = _entry_points()
    installed = any(ep.value == OURS for ep in eps)
    version = _version()
    choice = conf[options.GROUP].implementation
    if installed and choice == 'plugin':
        takeover.claim_method(plugin.get_flow)
    loaded = _loaded_function()
    outcome = 'plugin' if installed and choice == 'plugin' else 'in-tree'
    check = Result(OK, '',
                   details=['entry point ' + _describe_entry_point(ep)
                            for ep in eps],
                   data={'entry_points': [ep.value for ep in eps],
                         'installed': installed, 'version': version,
                         'implementation': choice, 'outcome': outcome,
                         'function': loaded})
    if loaded is None:
        check.status = FAIL
        check.summary = (f'Glance finds no {takeover.PLUGIN_NAME} plugin in '
                         f'{takeover.PLUGIN_NAMESPACE}.')
        check.fix = ("Install glance-download with Glance's own python -m "
                     "pip, then restart glance-api.")
    elif outcome == 'plugin':
        check.summary = (f'this plugin, glance-download {version}: Glance '
                         f'loads {loaded}.')
        if loaded != OURS:
            check.status = FAIL
            check.summary = (f'Glance would load {loaded}, not this plugin '
                             f'({OURS}).')
            check.fix = ("Glance's plugin loading is not what this version "
                         "of glance-download expects; set [glance_download] "
                         "implementation = in-tree until it is upgraded.")
    else:
        via = (', which hands over to the in-tree flow' if loaded == OURS
               else '')
        check.summary = ("Glance's in-tree method: Glance loads "
                         f"{loaded}{via}.")
        if installed:
            check.summary += ' [glance_download] implementation = in-tree.'
        else:
            check.status = WARN
            check.summary += (' glance-download is not installed for '
                              f'{sys.executable}.')
            check.fix = ("Install glance-download with Glance's own python "
                         "-m pip to use this plugin.")
    return check


# 2. Enabled

def check_enabled(conf):
    """Glance refuses the method's requests unless it is enabled."""
    methods = list(conf.enabled_import_methods or [])
    check = Result(OK, f'{METHOD} is in [DEFAULT] enabled_import_methods '
                       f'{_shown(methods)}.',
                   data={'enabled_import_methods': methods})
    if METHOD not in methods:
        check.status = FAIL
        check.summary = (f'{METHOD} is not in [DEFAULT] '
                         f'enabled_import_methods {_shown(methods)}.')
        check.fix = ('Set [DEFAULT] enabled_import_methods = '
                     f'{_shown(methods + [METHOD])} and restart glance-api.')
    return check


# 3. Staging

def _staging_option(conf):
    """(option that sets the staging area, its value), as Glance picks it."""
    if conf.enabled_backends:
        config_files.register_staging_store_opts()
        return ('[os_glance_staging_store] filesystem_store_datadir',
                conf.os_glance_staging_store.filesystem_store_datadir)
    return '[DEFAULT] node_staging_uri', conf.node_staging_uri


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_staging(conf):
    """The directory our download writes to and Glance's next step reads."""
    option, value = _staging_option(conf)
    user = _user(os.geteuid())
    data = {'option': option, 'value': value, 'user': user}
    try:
        path = staging.staging_directory()
    except errors.InvalidRequest:
        return Result(FAIL,
                      f'{option} = {value} is not a local directory.',
                      fix=f'Set {option} to a local or shared directory, for '
                          f'example {_example_staging(option)}.',
                      data=data)
    data.update(path=path, exists=os.path.isdir(path))
    if not data['exists']:
        return Result(FAIL, f'{path} ({option}) does not exist.',
                      fix='Create it, writable by the user glance-api runs '
                          f'as, or set {option}.', data=data)
    stat = os.stat(path)
    data.update(writable=os.access(path, os.W_OK | os.X_OK),
                free_bytes=shutil.disk_usage(path).free)
    details = [f'owner {_user(stat.st_uid)}, mode {stat.st_mode & 0o7777:04o}']
    if os.geteuid() == 0:
        details.append('Checked as root, who can write anywhere: run this '
                       'command as the user glance-api runs as.')
    if not data['writable']:
        return Result(FAIL,
                      f'{path} ({option}) is not writable by {user}.',
                      fix='Make it writable by the user glance-api runs as, '
                          'and run this command as that user.',
                      details=details, data=data)
    return Result(OK, f"{path} ({option}): writable by {user}, "
                      f"{progress.human_size(data['free_bytes'])} free.",
                  details=details, data=data)


def _example_staging(option):
    if option.startswith('[DEFAULT]'):
        return 'file:///var/lib/glance/staging'
    return '/var/lib/glance/staging'


# 4. Import filtering

def _target(url):
    try:
        return urls.target(endpoint.strip_version(url))
    except urls.UnsafeURL:
        return None


def _endpoint_allowed(url):
    """Whether the plugin would send to ``url``, decided as it decides."""
    target = _target(url)
    return target is not None and filtering.url_allowed(target.filtering_url)


def _refusal_hint(values, refused):
    targets = [_target(url) for _r, _i, url in refused]
    ports = sorted({target.port for target in targets if target}
                   - set(values['allowed_ports'] or []))
    hint = ('Allow the remote Glances in [import_filtering_opts]: their '
            'scheme in allowed_schemes, their host in allowed_hosts (when it '
            'is set; loopback and link-local addresses only then) and not '
            'in disallowed_hosts, their port in allowed_ports. Host names '
            'must resolve from this host.')
    if ports and values['allowed_ports']:
        hint += (" For example allowed_ports = "
                 f"{_shown(list(values['allowed_ports']) + ports)}.")
    return hint


def check_filtering(conf, catalog):
    """Whether import filtering lets the plugin reach each image endpoint.

    ``catalog`` is the service catalog the Regions check reports on.
    """
    endpoints = None if isinstance(catalog, Result) else catalog.endpoints
    group = conf[FILTER_GROUP]
    values = {name: group[name] for name in FILTER_OPTS}
    details = [f'[{FILTER_GROUP}] {name} = {_shown(value)}'
               for name, value in values.items()]
    check = Result(OK, '', details=details,
                   data={'options': values, 'endpoints': []})
    if not endpoints:
        check.status = UNKNOWN
        check.summary = ("No image endpoint to check; see Regions. Allowed "
                         f"schemes {_shown(values['allowed_schemes'])}, ports "
                         f"{_shown(values['allowed_ports'])}.")
        return check
    refused = []
    for region, interfaces in sorted(endpoints.items()):
        for interface, url in sorted(interfaces.items()):
            allowed = _endpoint_allowed(url)
            check.data['endpoints'].append(
                {'region': region, 'interface': interface, 'url': url,
                 'allowed': allowed})
            check.details.append(f"{region} {interface} {url}: "
                                 f"{'allowed' if allowed else 'refused'}")
            if not allowed:
                refused.append((region, interface, url))
    total = len(check.data['endpoints'])
    if not refused:
        check.summary = f'All {total} image endpoints are allowed.'
        return check
    check.status = FAIL if len(refused) == total else WARN
    how_many = (f'All {total}' if len(refused) == total
                else f'{len(refused)} of {total}')
    which = ', '.join(f'{region} {interface}'
                      for region, interface, _u in refused)
    check.summary = f'{how_many} image endpoints are refused: {which}.'
    check.fix = _refusal_hint(values, refused)
    return check


# 5. Regions

@dataclasses.dataclass(frozen=True)
class Catalog:
    """The image endpoints of the catalog the service's credentials get."""

    endpoints: dict
    section: str
    auth_url: str


def _credentials_group(conf):
    """Where the service credentials are: ours when set, else Glance's."""
    ours = conf[options.GROUP]
    return options.GROUP if (ours.auth_type or ours.auth_section) \
        else AUTHTOKEN_GROUP


def keystone_session(conf):
    """The Keystone session and credentials section of the service token.

    Returns (session to Keystone, section of its credentials), as the
    plugin builds them for the service token when the credentials are
    ours.
    """
    group = _credentials_group(conf)
    section = credentials.auth_section(conf, group)
    fix = ('Set auth_type = password, auth_url, username, password, '
           'project_name, user_domain_name and project_domain_name in '
           f'[{AUTHTOKEN_GROUP}], as keystonemiddleware uses them, or point '
           f'[{options.GROUP}] auth_section at a section that has them.')
    try:
        auth = credentials.service_auth(conf, group)
    except ks_exc.ClientException as exc:
        raise Unknown(f'The service credentials in [{section}] cannot be '
                      f'used: {exc}', fix) from None
    if auth is None:
        raise Unknown(f'No service credentials: [{section}] auth_type is '
                      'not set.', fix)
    return ks_session.Session(auth=auth, timeout=KEYSTONE_TIMEOUT,
                              **credentials.tls(conf[group])), section


def read_catalog(conf):
    """The image endpoints Keystone lists for the service credentials."""
    session, section = keystone_session(conf)
    auth_url = urls.mask_userinfo(getattr(session.auth, 'auth_url', None)
                                  or '')
    fix = (f'Check auth_url and the credentials in [{section}], and that '
           'Keystone answers from this host.')
    try:
        access = session.auth.get_access(session)
    except ks_exc.ConnectionError as exc:
        raise Unknown(f'Keystone at {auth_url} could not be reached '
                      f'({type(exc).__name__}).', fix,
                      details=[str(exc)]) from None
    except ks_exc.ClientException as exc:
        raise Unknown(f'Keystone at {auth_url} gave no token for the '
                      f'credentials of [{section}]: {exc}', fix) from None
    endpoints = {region: {interface: urls.mask_userinfo(url)
                          for interface, url in interfaces.items()}
                 for region, interfaces in endpoint.image_endpoints(
                     access.service_catalog.catalog).items()}
    return Catalog(endpoints, section, auth_url)


def _catalog_passed_on(conf):
    """Whether keystonemiddleware hands users' catalogs to Glance."""
    group = conf[AUTHTOKEN_GROUP]
    return ('include_service_catalog' not in group
            or group.include_service_catalog)


def check_regions(conf, catalog):
    """The regions users can import from, as the service's catalog lists.

    ``catalog`` is read_catalog's, or the Result saying why it was not read.
    """
    if isinstance(catalog, Result):
        return dataclasses.replace(catalog, data={'regions': None})
    endpoints, auth_url = catalog.endpoints, catalog.auth_url
    check = Result(OK, '', data={'regions': endpoints,
                                 'credentials': catalog.section,
                                 'auth_url': auth_url})
    for region, interfaces in sorted(endpoints.items()):
        for interface, url in sorted(interfaces.items()):
            check.details.append(
                f"{region or '(no region)'} {interface} {url}")
    names = sorted(region or '(no region)' for region in endpoints)
    if not endpoints:
        check.status = FAIL
        check.summary = (f'The service catalog from Keystone at {auth_url} '
                         'lists no image endpoint.')
        check.fix = ('Register the image service endpoints of every region '
                     'in Keystone.')
    elif not _catalog_passed_on(conf):
        check.status = FAIL
        check.summary = (f"Image endpoints in {', '.join(names)}, but "
                         "keystonemiddleware does not pass users' catalogs to "
                         "Glance.")
        check.fix = f'Set [{AUTHTOKEN_GROUP}] include_service_catalog = true.'
    else:
        check.summary = f"Image endpoints in {', '.join(names)}."
        if len(endpoints) < 2:
            check.status = WARN
            check.summary += ' There is no other region to import from.'
    return check


# 6. Settings

def _our_opts():
    return (options.transfer_opts + options.tls_opts
            + ks_loading.get_auth_common_conf_options())


def _readable(path):
    return os.path.isfile(path) and os.access(path, os.R_OK)


def check_settings(conf):
    """Our settings, and the combinations that would fail every import."""
    group = conf[options.GROUP]
    values, changed, details = {}, [], []
    for opt in _our_opts():
        value = group[opt.dest]
        values[opt.dest] = None if opt.secret and value else value
        if value != opt.default:
            changed.append(opt.dest)
        shown = '****' if opt.secret and value else _shown(value)
        details.append(f'[{options.GROUP}] {opt.dest} = {shown}')
    prefixes = conf[options.PROPERTIES_GROUP].extra_properties
    values['extra_properties'] = prefixes
    details.append(f'[{options.PROPERTIES_GROUP}] extra_properties = '
                   f'{_shown(prefixes)}')
    check = Result(OK, "Changed from the defaults: "
                       f"{', '.join(changed) or 'none'}.",
                   details=details, data=values)
    problems, fixes = [], []
    if group.send_service_token and not (group.auth_type
                                         or group.auth_section):
        problems.append('send_service_token is on without service '
                        'credentials')
        fixes.append(f'set [{options.GROUP}] auth_section = '
                     f'{AUTHTOKEN_GROUP}.')
    for name in ('cafile', 'certfile', 'keyfile'):
        if group[name] and not _readable(group[name]):
            problems.append(f'{name} {group[name]} is not a readable file')
            fixes.append(f'correct [{options.GROUP}] {name}.')
    if problems:
        check.status = FAIL
        check.summary = '; '.join(problems) + '.'
        check.fix = ' '.join(fix[0].upper() + fix[1:] for fix in fixes)
    elif group.insecure:
        check.status = WARN
        check.summary = ('insecure = true: remote Glances\' certificates '
                         'are not verified, tokens can be intercepted.')
        check.fix = f'Set [{options.GROUP}] insecure = false.'
    elif recovery.settings_problem(group.heartbeat_interval,
                                   group.stale_after):
        check.status = WARN
        check.summary = recovery.settings_problem(group.heartbeat_interval,
                                                  group.stale_after) + '.'
        check.fix = (f'Set [{options.GROUP}] stale_after to at least '
                     f'{recovery.MIN_HEARTBEATS} times heartbeat_interval.')
    return check


# 7. Imports left by a glance-api that stopped

def _stale_entry(observed, verdict):
    return {'image_id': observed.image_id, 'task_id': observed.task_id,
            'idle_seconds': int(observed.idle),
            'image_status': observed.image_status, 'reason': verdict.reason}


def check_imports(conf, db_api):
    """Stale imports, and the part files in staging with their images."""
    group = conf[options.GROUP]
    config_files.register_staging_store_opts()
    stale = [_stale_entry(*found) for found in sweep.find_stale(conf, db_api)]
    orphans = {staged.name for staged, _status in sweep.orphan_parts(db_api)}
    parts, details = [], []
    for entry in stale:
        details.append(f"Stale: image {entry['image_id']} "
                       f"({entry['image_status']}), task {entry['task_id']}: "
                       f"{entry['reason']}")
    for staged in staging.staged_files():
        if not staged.partial:
            continue
        image = repositories.image_status(staged.image_id, db_api)
        parts.append({'name': staged.name, 'image_id': staged.image_id,
                      'image_status': image, 'size': staged.size,
                      'age_seconds': int(staged.age),
                      'orphan': staged.name in orphans})
        orphan = ', orphan' if staged.name in orphans else ''
        details.append(f"Part file {staged.describe()}, image "
                       f"{image or 'deleted'}{orphan}")
    data = {'stale_after': sweep.bound(conf),
            'heartbeat_interval': group.heartbeat_interval,
            'recovery_interval': group.recovery_interval,
            'stale': stale, 'parts': parts}
    within = (f"within {data['stale_after'] + group.recovery_interval:g} s of "
              "glance-api running")
    if stale or orphans:
        return Result(WARN,
                      f'{len(stale)} import(s) stopped with their glance-api, '
                      f'{len(orphans)} orphan part file(s) in staging.',
                      fix='Run glance-download-status --repair, or leave it '
                          f'to glance-api: it recovers them {within}.',
                      details=details, data=data)
    return Result(OK,
                  f'No import stopped with its glance-api; {len(parts)} part '
                  'file(s) of imports in progress. Stopped imports are '
                  f'recovered {within}.', details=details, data=data)


def repair(conf, out, db_api=None):
    """Recover stale imports and orphan part files; say what was done."""
    config_files.register_staging_store_opts()
    report = sweep.sweep_once(conf, db_api)
    for done in report.recovered:
        out.write(f"Repaired image {done.image_id} (task {done.task_id}, "
                  f"{done.reason}): "
                  f"{', '.join(done.steps) or 'nothing left to do'}; removed "
                  f"{', '.join(done.removed) or 'no staged data'}.\n")
    for staged in report.parts_removed:
        out.write(f'Removed orphan part file {staged.describe()}.\n')
    if not (report.recovered or report.parts_removed):
        out.write('Nothing to repair.\n')
    return report


# The registry

@dataclasses.dataclass(frozen=True)
class Registered:
    """One check: its name, title and function.

    The name is the one in JSON, the title the one of the text report;
    the function makes the check from the configuration and what it is
    handed (``handed`` names them, from what run_checks gathers).
    """

    name: str
    title: str
    function: typing.Callable[..., Result]
    handed: tuple = ()

    def run(self, conf, handed):
        result = _guarded(self.function, conf,
                          *(handed[name] for name in self.handed))
        return Check(name=self.name, title=self.title,
                     **dataclasses.asdict(result))


# In the order they are reported.
CHECKS = (
    Registered('implementation', 'Implementation', check_implementation),
    Registered('enabled', 'Enabled', check_enabled),
    Registered('staging', 'Staging', check_staging),
    Registered('import_filtering', 'Import filtering', check_filtering,
               ('catalog',)),
    Registered('regions', 'Regions', check_regions, ('catalog',)),
    Registered('settings', 'Settings', check_settings),
    Registered('imports', 'Imports', check_imports, ('db_api',)),
)


def _guarded(function, *args):
    """``function(*args)``, or the Result of its failure.

    A broken setting fails the check it belongs to, not the command.
    """
    try:
        return function(*args)
    except Unknown as exc:
        return Result(UNKNOWN, str(exc), fix=exc.fix, details=exc.details)
    except cfg.Error as exc:
        return Result(FAIL, f'The configuration cannot be read: {exc}',
                      fix='Correct the option named above.')
    except Exception as exc:
        return Result(UNKNOWN,
                      f'Could not be checked: {type(exc).__name__}: {exc}')


def run_checks(conf, db_api=None):
    """Run every check of CHECKS.

    Each is handed the catalog (read once) and the database (``db_api``,
    the configured one by default).
    """
    handed = {'catalog': _guarded(read_catalog, conf), 'db_api': db_api}
    return [registered.run(conf, handed) for registered in CHECKS]


def ready(checks):
    return all(check.status != FAIL for check in checks)


def render_text(checks, out):
    checks = [_shown_check(check) for check in checks]
    for check in checks:
        out.write(f'{check.status.upper():<8} {check.title:<17} '
                  f'{check.summary}\n')
        for line in check.details:
            out.write(f"{'':27}{line}\n")
        if check.fix:
            out.write(f"{'':27}To fix: {check.fix}\n")
    failed = [check.title for check in checks if check.status == FAIL]
    unknown = [check.title for check in checks if check.status == UNKNOWN]
    if failed:
        out.write(f"Not ready: fix {', '.join(failed)}.\n")
    else:
        out.write(f'Ready: Glance can serve {METHOD}.\n')
    if unknown:
        out.write(f"Not checked: {', '.join(unknown)}.\n")


def render_json(checks, out):
    json.dump({'ready': ready(checks), 'version': _version(),
               'checks': [dataclasses.asdict(_shown_check(check))
                          for check in checks]},
              out, indent=2, sort_keys=True, default=str)
    out.write('\n')


@contextlib.contextmanager
def _library_warnings_hidden():
    """Keep library warnings off the report; the checks say what matters.

    Glance's logging setup sends them to stderr (stevedore, for one, warns
    about the two glance_download implementations, which is expected).
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def main(argv=None):
    """Console entry point: exit status 0 when ready, 1 otherwise."""
    conf = CONF
    options.register_opts(conf)
    conf.register_cli_opts(cli_opts)
    with _library_warnings_hidden():
        try:
            config_files.parse_config(
                sys.argv[1:] if argv is None else argv,
                prog='glance-download-status',
                version=_version() or 'unknown',
                description='Check that this Glance is ready to serve the '
                            'glance-download import method.')
        except cfg.Error as exc:
            sys.stderr.write(f'glance-download-status: {exc}\n')
            return 1
        if conf.repair:
            try:
                repair(conf, sys.stderr if conf.json else sys.stdout)
            except Exception as exc:
                sys.stderr.write('glance-download-status: the repair failed: '
                                 f'{type(exc).__name__}: {exc}\n')
                return 1
        checks = run_checks(conf)
    (render_json if conf.json else render_text)(checks, sys.stdout)
    return 0 if ready(checks) else 1


if __name__ == '__main__':
    sys.exit(main())
