"""A harness step that fails where it should work (root, tools present) fails the test
with the tool's own error; it is never turned into a skip. The failing `ip` and `mount`
are stand-ins on PATH: a kernel refusing them cannot be caused on purpose here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.edge.netns import skip_unless_netns_possible, two_hosts
from tests.security.faults import read_only

ERROR = "RTNETLINK answers: Operation not permitted"


@pytest.fixture
def failing_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("the harness only runs these tools as root")
    for tool in ("ip", "mount"):
        script = tmp_path / tool
        script.write_text(f"#!/bin/sh\necho '{ERROR}' >&2\nexit 1\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_a_failing_ip_netns_fails_with_its_error(failing_tools: None) -> None:
    with pytest.raises(pytest.fail.Exception, match=ERROR):
        skip_unless_netns_possible()


def test_a_failing_namespace_setup_fails_with_its_error(
    failing_tools: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.edge.netns.skip_unless_netns_possible", lambda: None)
    with pytest.raises(pytest.fail.Exception, match=ERROR), two_hosts():
        pass


def test_a_failing_mount_fails_with_its_error(failing_tools: None, tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    with pytest.raises(pytest.fail.Exception, match=ERROR), read_only(volume):
        pass
