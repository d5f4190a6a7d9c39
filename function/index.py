"""Function Compute entry point: handler string ``index.handler``."""

from ebs_failover.handler import handler

__all__ = ["handler"]
