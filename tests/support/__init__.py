"""Test support shared by the component, e2e and fault suites (imports product and emulators)."""
