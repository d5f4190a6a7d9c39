"""The HTTP trigger's room: the request's envelope, the gate it must pass, the answer its caller gets.

- :mod:`.envelope`: whether an event came through the HTTP trigger, and the request as a typed view
  (method, path, query, headers, caller's address) for routing;
- :mod:`.gate`: the callback token and the allowed networks (pure);
- :mod:`.answer`: the HTTP answer (status, headers, body) for a result.

What the request carries (a CloudMonitor callback, an event) is parsed by :mod:`ebs_failover.triggers`,
like any other event. A page of its own (an approval page) is a new path with a gate of its own here.
"""

from __future__ import annotations
