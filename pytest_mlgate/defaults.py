"""Where a project keeps the files it commits, relative to the rootdir: the defaults of the
options, ini keys and ``mlgate`` commands that name them (docs/configuration.md).

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

DEFAULT_BASELINE = ".mlgate/baseline.json"
DEFAULT_REGISTRY = ".mlgate/registry"
# The last verdict of each notification state key (ini mlgate_notify_on = change).
DEFAULT_NOTIFY_STATE = ".mlgate/notify-state.json"
