"""splunklib.client, imported only if something uses it.

splunklib.searchcommands imports splunklib.client for one name, `Service`, which its
`SearchCommand.service` property builds when a command calls splunkd's REST API back. t1114
never does. Importing it anyway costs every search process splunklib.binding, ssl, http.client
and the email package: over 40 % of splunklib's import time and about 6 MB of memory
(docs/performance.md). On an indexer that replicated the app's bundle, or where the app folder
cannot be written, none of it has bytecode cached, so all of that source is compiled again in
every search.

`defer()`, called before splunklib.searchcommands is imported, puts a stand-in module in its
place. The stand-in's `Service` imports the real module when a Service is built, and any other
attribute imports it and answers from it, so code that needs the real module still gets it, a
little later. Nothing of splunklib is changed on disk. Never imports splunklib.client itself.
"""

import sys
import types

CLIENT = "splunklib.client"


class _DeferredClient(types.ModuleType):
    """Stands in for splunklib.client until an attribute it does not have is asked for."""

    def __getattr__(self, name):   # only for names not set on the stand-in
        if name.startswith("__") and name.endswith("__"):
            # The import system probes modules for these (`from ..client import Service` asks
            # for __path__): a module has none of them unless it sets them.
            raise AttributeError(name)
        return getattr(load_client(), name)


def _service(*args, **kwargs):
    """splunklib.client.Service(*args, **kwargs), the real module imported on first use."""
    return load_client().Service(*args, **kwargs)


def defer():
    """Puts the stand-in in place; no-op when splunklib.client is already imported (or
    deferred). Returns True when the stand-in is in place."""
    present = sys.modules.get(CLIENT)
    if present is not None:
        return isinstance(present, _DeferredClient)
    import splunklib   # the package itself: cheap, and its attribute must point at the stand-in
    stand_in = _DeferredClient(CLIENT, __doc__)
    stand_in.Service = _service
    sys.modules[CLIENT] = stand_in
    splunklib.client = stand_in
    return True


def load_client():
    """The real splunklib.client, imported now if the stand-in is still in its place (if that
    import fails, the error is raised, and raised again at the next use)."""
    if isinstance(sys.modules.get(CLIENT), _DeferredClient):
        del sys.modules[CLIENT]   # so that the import below runs the real module
    import splunklib.client as client   # the import sets the package's `client` to it too
    return client


def is_deferred():
    """True while splunklib.client has not been imported for real."""
    return isinstance(sys.modules.get(CLIENT), _DeferredClient)
