"""The two seed documents and what the harness adds to them: supplements and links.

Shipped as ``paysim.specs``; :mod:`paysim.documents` says where they are.
"""
