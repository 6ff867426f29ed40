"""A pytest plugin: test code that talks to Nomad against ordu instead.

Installed with the package (entry point ``pytest11``), so in any project with
``ordu`` installed these fixtures are available without imports:

``ordu_server``
    The address (``http://127.0.0.1:PORT``) of an :mod:`ordu.http` server on a
    free loopback port, serving a fresh store for the test. Point a Nomad
    client at it (python-nomad: ``nomad.Nomad(host="127.0.0.1", port=PORT)``).
``ordu_http``
    The :class:`ordu.http.Server` behind ``ordu_server`` (``.address``,
    ``.store``, ``.port``).
``ordu_store``
    The :class:`ordu.Store` behind ``ordu_server``, to set up state directly
    (nodes, jobs) or look at it without HTTP.
``ordu_store_config``
    The configuration of that store (``None``: the defaults); override it in a
    test module or conftest to serve another region or other limits.

Each fixture is per test, so tests never see each other's jobs. A server takes
about a millisecond to start.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Union

import pytest

from ordu._ordu import Store
from ordu.http import Server

__all__ = ["ordu_store_config", "ordu_http", "ordu_server", "ordu_store"]


@pytest.fixture
def ordu_store_config() -> Optional[Union[Dict[str, Any], str]]:
    """The configuration of the store the server serves (None: defaults)."""
    return None


@pytest.fixture
def ordu_http(ordu_store_config: Optional[Union[Dict[str, Any], str]]) -> Iterator[Server]:
    """A running ordu HTTP server on a free loopback port, stopped after the test."""
    server = Server(Store(ordu_store_config), "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ordu_server(ordu_http: Server) -> str:
    """The base URL of a running ordu HTTP server, e.g. ``http://127.0.0.1:40123``."""
    return ordu_http.address


@pytest.fixture
def ordu_store(ordu_http: Server) -> Store:
    """The store behind ``ordu_server``."""
    return ordu_http.store
