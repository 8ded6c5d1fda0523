"""The package list; everything else is in pyproject.toml.

The code packages as found, and the two folders of documents, ``specs/`` and ``scenarios/``,
which stay at the top of the repository and are shipped inside ``paysim`` (their package-dir
mapping is in pyproject.toml).
"""

from setuptools import find_namespace_packages, setup

CODE = ["simulator", "harness", "loadtests", "paysim"]
DOCUMENTS = ["specs", "scenarios"]

packages = find_namespace_packages(include=[f"{p}{tail}" for p in CODE for tail in ("", ".*")])
for folder in DOCUMENTS:
    inside = find_namespace_packages(folder)
    packages += [f"paysim.{folder}", *(f"paysim.{folder}.{p}" for p in inside)]

setup(packages=packages)
