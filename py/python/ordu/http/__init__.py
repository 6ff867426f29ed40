"""Nomad's HTTP API over an ordu :class:`~ordu.Store` (docs/http-api.md).

Serves ``/v1/jobs``, ``/v1/job/<id>`` (``/allocations``, ``/evaluations``,
``/evaluate``, ``/plan``, ``DELETE``), ``/v1/nodes``, ``/v1/node/<id>`` (``/status``,
``/drain``, ``/eligibility``, ``/evaluate``, ``/allocations``),
``/v1/evaluations``, ``/v1/evaluation/<id>`` (``/allocations``),
``/v1/allocations``, ``/v1/allocation/<id>`` (``/status``, ``/stop``),
``/v1/namespaces``, ``/v1/namespace[/<name>]`` (``GET``, ``PUT``/``POST``,
``DELETE``), and
the agent and status endpoints
(``/v1/agent/self``, ``/v1/agent/members``, ``/v1/status/leader``,
``/v1/status/peers``, ``/v1/regions``) with Nomad's status codes, plain-text
error bodies, the ``X-Nomad-*`` headers and ``?index=&wait=`` blocking
queries. Job routes and the job, evaluation and allocation lists take
``?namespace=`` (absent: ``default``; ``*`` on lists: every namespace; a
register's job ``Namespace`` wins); the lists (jobs, nodes, evaluations,
allocations) take
``?per_page=&next_token=&reverse=`` and answer ``X-Nomad-NextToken`` when
there is a next page. ``/v1/event/stream`` streams NDJSON frames (chunked)
with ``?topic=&index=&namespace=``, a ``{}`` heartbeat every 30 s; an open
stream holds its connection's thread. Every connection has a thread of its own (at most
``max_connections`` at once, 1,024 by default) and a blocked read holds no
lock, so hundreds of long polls do not hold up other requests.

In a program::

    from ordu.http import Server
    with Server(port=0) as server:      # started in a background thread
        print(server.address)           # http://127.0.0.1:PORT

From a shell::

    python -m ordu.http --addr 127.0.0.1:4646 --demo-nodes 3

The store does all the work; this module only parses HTTP (routes, query
parameters, Go durations) and writes answers. Status codes come from the
errors themselves (``http_status`` / ``http_status_lookup``, the core's one
table).

(The package: ``query`` parses query strings, ``handler`` routes and answers
requests, ``serving`` accepts and bounds connections, ``server`` is
:class:`Server`, ``demo`` makes demo nodes, ``cli`` is the command line.)
"""

from __future__ import annotations

from ordu._ordu import parse_duration, parse_index
from ordu.http.cli import main
from ordu.http.demo import demo_node
from ordu.http.handler import (
    EVENT_HEARTBEAT,
    READ_HEADERS,
    Answer,
    MethodNotAllowed,
    NotFound,
)
from ordu.http.query import BadRequest, Query, parse_bool
from ordu.http.server import Server, _with_grouped

__all__ = ["Server", "parse_duration", "parse_index", "demo_node", "main"]
