"""The conformance harness: contract suite, scenario runner, load profiles and reports.

Nothing here imports the simulator's internals: the harness speaks to any implementation over
HTTP. The one exception is :mod:`harness.simproc`, which starts the bundled simulator as a
separate process when no target is given.
"""
