"""The command line asks glibc's malloc for one arena, so that threads do not each keep freed memory."""

from __future__ import annotations

import importlib
import platform

import inspector
from inspector.cli.allocator import share_one_arena
from tests.conftest import SAMPLES


def test_glibc_agrees_to_one_arena():
    assert platform.libc_ver()[0] == "glibc", "these tests run on glibc Linux"
    assert share_one_arena() is True


def test_the_command_line_asks_for_it_and_the_api_does_not(monkeypatch, tmp_path):
    cli = importlib.import_module("inspector.cli.main")
    calls: list[int] = []
    monkeypatch.setattr(cli, "share_one_arena", lambda: calls.append(1))
    inspector.validate(SAMPLES / "seed.onnx")
    assert calls == []
    assert cli.main([str(SAMPLES / "seed.onnx"), "-q", "-o", str(tmp_path / "report.txt")]) == 0
    assert calls == [1]
