"""Serving a verified artefact over HTTP: ``mlgate serve`` and the ``serve-check`` deploy target.

Modules by role: ``signature`` (a request's rows checked and cast against the stored input
signature), ``payload`` (the body of ``POST /invocations`` in each accepted format),
``model`` (the artefact loaded through ``pytest_mlgate.load``, with what the endpoints show),
``predlog`` (the prediction log), ``app`` (the starlette application), ``server`` (uvicorn on a
bound socket), ``check`` (the ``serve-check`` deploy target). Plain Python: no pytest import.
starlette and uvicorn come with the ``serve`` extra and are imported only by ``app`` and
``server``.
"""
