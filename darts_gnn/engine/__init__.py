"""Training, evaluation and run bookkeeping: the one fit loop and everything a run writes.

:class:`Trainer` (``train``), :func:`fit_and_evaluate` (``trial``), :class:`Evaluator` (``metrics``),
run directories (``rundir``, ``runlock``), checkpoint manifests (``manifest``, ``fingerprint``),
seeding (``seed``) and the cold-start protocol (``coldstart``).
"""
