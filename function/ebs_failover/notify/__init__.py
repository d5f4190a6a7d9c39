"""Where the result event goes once the failover is decided: notification channels.

A channel is a string ``"<scheme>:<target>"``; the only scheme so far is
``mns:<topic-name>`` (an MNS topic of the function's account and region).
:func:`publish` tries every channel and reports each one's fate; it never
raises for a channel that failed. :class:`NotifyError` is what the handler
raises when a state-changing result reached nobody, so that FC's async retry
tells again.

The MNS SDK is imported only when a message is actually published: a cold
start that has nothing to tell pays nothing for it.
"""

from __future__ import annotations

from .mns import DEFAULT_TIMEOUT, NotifyError, default_endpoint, message_body, message_tag, publish

__all__ = ["DEFAULT_TIMEOUT", "NotifyError", "default_endpoint", "message_body", "message_tag", "publish"]
