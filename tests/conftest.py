"""Suite-wide hooks: under CI=true a skip fails (tests/strict_skips.py)."""

pytest_plugins = ["tests.strict_skips"]
