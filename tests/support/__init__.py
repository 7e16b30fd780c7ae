"""Helpers shared by the test packages: real local servers on 127.0.0.1 and the bundled local model."""
