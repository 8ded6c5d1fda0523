"""YAML scenario runner: multi-step stories collected by pytest and run against any target.

``plugin`` collects ``scenarios/**/*.yaml``; ``loader`` validates each document against
``scenario.schema.json``; ``runner`` executes the steps (``http``, ``expect``, ``templating``,
``paths``), with the webhook ``receiver``, the ``sse`` client and the outcome ``drivers``.
"""
