"""Profiles of slow requests and job processor cycles, linked to their spans (docs/profiles.md).

``sampler`` is the thread that finds work past its threshold and samples that thread's stack,
``call_tree`` what the samples become, ``storage`` the bounded directory they are kept in. Nothing is
imported here: :mod:`dcm_otel.config` loads ``settings`` from settings.py, before Django exists.
"""
