"""``python -m ebs_failover.cli``: the ``ebs-failover`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
