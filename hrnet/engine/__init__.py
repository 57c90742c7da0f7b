"""The training engine behind ``hrnet-train`` and ``hrnet-test`` (Qt-free, no command line).

- :mod:`hrnet.engine.common` — what both CLIs share: official arguments, config resolution, the
  run folder, exit codes, one-line error messages;
- :mod:`hrnet.engine.builders` — optimizer, scheduler, loss, loaders, datasets, seeds, atomic writes;
- :mod:`hrnet.engine.checkpoints` — ``--resume``: weights, optimizer, scaler, LR schedule;
- :mod:`hrnet.engine.fit` — the run: epoch loop, validation, checkpoints, ``model_best.pth``.

The CLIs (:mod:`hrnet.cli.train`, :mod:`hrnet.cli.test`) sit on top; nothing here imports them.
"""
