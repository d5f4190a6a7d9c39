"""``make bench``: ebs-failover against the bare EBS SDK, side by side, as ratios.

Every figure is a ratio of two sides measured in the same process run,
interleaved round by round (the order alternates), reported as the median of
the per-round ratios. Absolute times on a shared machine mean little; the
ratio of two things measured under the same load means more.

Goals (a PASS/MISS verdict) are set for the cold start (``cold``,
``cold-ignored``, ``cold-rejected``, ``cold-*-vs-client``) and ``memory``. The
warm and storm rows (``warm``, ``warm-interleaved``, ``warm-socket``,
``storm``) and ``size`` are information, without a goal.

Benches (``--only NAME``): ``warm``, ``cold`` (also gives ``memory``),
``storm``, ``size``. ``--quick`` runs fewer rounds. The table is printed and
written between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in
``BENCHMARKS.md``; everything else in that file is hand-written and kept.
"""
