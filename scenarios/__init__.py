"""The bundled scenario suites, one folder per API.

Shipped as ``paysim.scenarios``; :mod:`paysim.documents` says where they are.
"""
