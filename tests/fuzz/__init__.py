"""Fuzzing tinyedge with hostile models and data (issue 10, section 3): harness, mutations, CI slice."""
