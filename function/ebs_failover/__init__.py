"""ebs-failover: fail an EBS async-replication pair over when CloudMonitor says so."""

from __future__ import annotations

__version__ = "0.1.0"
