# Glance 30 to 32 import eventlet's green modules (glance.common.utils
# imports eventlet.green.socket). Imported after the standard library's
# http.server, they leave its ThreadingHTTPServer unable to shut down, and
# the tests' fake servers hang: load Glance, through the boundary module,
# before any test module imports http.server.
from glance_download import boundary  # noqa: F401
