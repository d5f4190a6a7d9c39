"""What every fake shares: the loopback server and its injected faults (:mod:`.http`), ACS3 signatures
and credentials (:mod:`.auth`), the gateway's error answers (:mod:`.errors`), and per-action fault
plans and quotas (:mod:`.faults`). It imports nothing of any one service."""
