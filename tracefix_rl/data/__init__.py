"""Layer 3, the data: task collections and the trajectory store.

:mod:`~tracefix_rl.data.tasks` (the built-in bank, task packs, the build pipeline, importers,
validation, variants, curriculum) and :mod:`~tracefix_rl.data.trajectories` (the SQLite store,
its recorder, export and import). Data imports the engines and the core, never the environment.
"""
