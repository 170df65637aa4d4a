"""Implementations of 0.2.0 helpers that have no counterpart in the new API.

They are reached only through the deprecated 0.2.0 names (see
:mod:`dash_file_cache._compat`); new code uses the replacements those
warnings name.
"""
