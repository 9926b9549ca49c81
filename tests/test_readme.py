"""README.md runs as written: every code block in it is checked against the samples and the real tool.

- ```python blocks run (a subprocess, cwd the checkout); a top-level expression whose comment begins with a value
  (``conv.filter(5).shape  # (32, 3, 3): ...``) must equal it.
- ```toml and ```json blocks parse.
- Console blocks (``$ inspect ...`` then its output) run as ``python -m inspector ...`` from the checkout; every shown
  line must be the real output's, in order, a line ``...`` or ``…`` standing for any number of lines, trailing
  whitespace ignored; ``; echo $?`` shows the exit code as the last line, and without it the exit code must be 0.
  ``--validate`` output depends on the onnxruntime version and the CPU: there the version, each layer's errors
  and worst element are not compared, nor column widths (the tolerance rule and its bound are).
- Shell blocks (indented, or ```sh) pass ``bash -n``, their ``inspect`` commands run and exit 0, and the
  checkout's files they name exist; other commands (venvs, pip, pytest runs) are only checked that far.
- The JSON report's sketch names only keys that real reports have.

A block right after ``<!-- not run: REASON -->`` (a model that is not in samples/) is skipped, and only such a block.
Further tests hold README's prose about the report to what the tool prints.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from tests.conftest import report_json

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.+?)\s*-->$")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
WILDCARDS = {"...", "…"}


@dataclass(frozen=True)
class Block:
    line: int  # README line of the block's first line of content
    kind: str  # "python", "toml", "json", "console", "json-sketch", "shell", "tree" or "unknown"
    text: str
    not_run: str | None  # the reason of a <!-- not run: ... --> marker right before the block

    @property
    def id(self) -> str:
        return f"README.md:{self.line}-{self.kind}"


def _kind(lang: str, text: str) -> str:
    if lang in ("python", "toml", "json"):
        return lang
    if lang in ("sh", "bash", "shell"):
        return "shell"
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if lang in ("", "console") and first.startswith("$ "):
        return "console"
    if lang == "" and first == "{":
        return "json-sketch"
    if lang == "" and first.endswith("/"):
        return "tree"
    return "unknown"


def readme_blocks(text: str) -> list[Block]:
    """Fenced blocks, and indented (4-space) blocks after a blank line outside fences."""
    lines = text.splitlines()
    blocks: list[Block] = []

    def marker(index: int) -> str | None:  # index: the block's first line (a fence or an indented line)
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        match = NOT_RUN.match(lines[before].strip()) if before >= 0 else None
        return match["reason"] if match else None

    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:
            end = i + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            assert end < len(lines), f"README.md:{i + 1}: the fence is never closed"
            body = "\n".join(lines[i + 1 : end]) + "\n"
            blocks.append(Block(i + 2, _kind(fence["lang"], body), body, marker(i)))
            i = end + 1
            continue
        if lines[i].startswith("    ") and lines[i].strip() and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            body = "\n".join(line[4:] for line in lines[i:end]).strip("\n") + "\n"
            blocks.append(Block(i + 1, "shell", body, marker(i)))
            i = end
            continue
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def blocks_of(*kinds: str) -> list:
    return [pytest.param(block, id=block.id) for block in BLOCKS if block.kind in kinds]


def skip_if_not_run(block: Block) -> None:
    if block.not_run:
        pytest.skip(f"{block.id}: not run: {block.not_run}")


def run_inspect(args: list[str], *, console: bool = True) -> subprocess.CompletedProcess:
    """``inspect ARGS`` as a user runs it from the checkout; on a console, stdout and stderr interleaved."""
    env = {**os.environ, "PYTHONUTF8": "1"}
    env.pop("INSPECTOR_RAISE_ERRORS", None)
    result = subprocess.run(
        [sys.executable, "-m", "inspector", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if console else subprocess.PIPE,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert "\x1b" not in result.stdout, "README: piped, the output is plain text with no escape codes"
    return result


# ---------------------------------------------------------------------------------------------------------------
# Every block is of a kind this file checks, and the markers sit right before blocks


def test_every_block_is_checked():
    unknown = [block.id for block in BLOCKS if block.kind == "unknown"]
    assert not unknown, f"blocks this test does not know how to check: {unknown}"
    assert {block.kind for block in BLOCKS} >= {"python", "toml", "console", "shell"}


def test_not_run_markers_precede_blocks():
    text = README.read_text(encoding="utf-8")
    markers = [line for line in text.splitlines() if NOT_RUN.match(line.strip())]
    assert len(markers) == sum(1 for block in BLOCKS if block.not_run), "a not-run marker that is before no block"


# ---------------------------------------------------------------------------------------------------------------
# Console blocks: shown output against the real output


@dataclass(frozen=True)
class Session:
    command: str
    args: list[str]
    shown: list[str]
    exit_code: int  # shown with `; echo $?`, else 0


def sessions(block: Block) -> list[Session]:
    found: list[Session] = []
    for chunk in re.split(r"^(?=\$ )", block.text, flags=re.M):
        if not chunk.strip():
            continue
        command, *shown = chunk.rstrip("\n").split("\n")
        command = command[2:].strip()
        shown = [line.rstrip() for line in shown]
        exit_code = 0
        echo = re.fullmatch(r"(?P<command>.*?);\s*echo \$\?", command)
        if echo:
            command = echo["command"].strip()
            assert shown and shown[-1].strip().isdigit(), f"{block.id}: `; echo $?` without an exit code shown last"
            exit_code = int(shown.pop().strip())
        args = shlex.split(command)
        assert args[0] == "inspect", f"{block.id}: a console command that is not `inspect`: {command}"
        found.append(Session(command, args[1:], shown, exit_code))
    return found


def _machine_independent(line: str) -> str:
    """A ``--validate`` output line without what depends on onnxruntime's version and the CPU."""
    line = re.sub(r"\bonnxruntime \d+(?:\.\d+)+", "onnxruntime <version>", line)
    line = " ".join(re.sub("─+", "─", line).split())
    row = re.fullmatch(r"(\S+ (?:captured|standalone) \S \S+) \S+ \S+ (.+) \d+ \d+(?:,\d+)*", line)
    return f"{row[1]} <abs err> <rel err> {row[2]} <channel> <index>" if row else line


def match_lines(shown: list[str], real: list[str]) -> bool:
    """Whether the shown lines are the real ones, whole-line wildcards standing for any number of lines."""
    segments: list[list[str]] = [[]]
    for line in shown:
        if line.strip() in WILDCARDS:
            segments.append([])
        else:
            segments[-1].append(line)
    if len(segments) == 1:
        return shown == real
    first, *middle, last = segments
    if real[: len(first)] != first:
        return False
    position = len(first)
    for segment in middle:
        if not segment:
            continue
        starts = [j for j in range(position, len(real) - len(segment) + 1) if real[j : j + len(segment)] == segment]
        if not starts:
            return False
        position = starts[0] + len(segment)
    return len(real) - len(last) >= position and (not last or real[len(real) - len(last) :] == last)


@pytest.mark.parametrize("block", blocks_of("console"))
def test_console_block_shows_the_real_output(block: Block):
    skip_if_not_run(block)
    for session in sessions(block):
        result = run_inspect(session.args)
        real = result.stdout.rstrip("\n").split("\n")
        real = [line.rstrip() for line in real]
        shown = session.shown
        if "--validate" in session.args:
            shown = [line if line.strip() in WILDCARDS else _machine_independent(line) for line in shown]
            real = [_machine_independent(line) for line in real]
        diff = "\n".join(difflib.unified_diff(session.shown, real, "README", "real", lineterm=""))
        if not match_lines(shown, real):
            pytest.fail(f"{block.id}: `{session.command}` prints otherwise:\n{diff}", pytrace=False)
        assert result.returncode == session.exit_code, (
            f"{block.id}: `{session.command}` exits {result.returncode}, README shows {session.exit_code}"
        )


@pytest.mark.parametrize(
    ("shown", "real", "matches"),
    [
        (["a", "b"], ["a", "b"], True),
        (["a"], ["a", "b"], False),
        (["a", "…"], ["a", "b", "c"], True),
        (["...", "c"], ["a", "b", "c"], True),
        (["...", "b"], ["a", "b", "c"], False),
        (["a", "  …", "c"], ["a", "c"], True),
        (["a", "...", "c", "...", "e"], ["a", "b", "c", "d", "e"], True),
        (["a", "...", "d", "...", "c"], ["a", "b", "c", "d", "e"], False),
        (["a", "...", "b", "b"], ["a", "b", "b", "b"], True),
    ],
)
def test_wildcard_matching(shown, real, matches):
    assert match_lines(shown, real) is matches


# ---------------------------------------------------------------------------------------------------------------
# Python blocks: they run, and the values their comments state are the values


def _stated_value(comment: str) -> str | None:
    """The value a comment begins with (``(32, 3, 3): the filter...`` → ``(32, 3, 3)``), or None."""
    for candidate in (comment, comment.split(": ")[0], comment.split("; ")[0]):
        candidate = candidate.strip()
        try:
            tree = ast.parse(candidate, mode="eval")
        except SyntaxError:
            continue
        allowed = (ast.Expression, ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.USub)
        allowed += (ast.Call, ast.Name, ast.Load)
        nodes = list(ast.walk(tree))
        if all(isinstance(node, allowed) for node in nodes) and all(
            node.id == "range" for node in nodes if isinstance(node, ast.Name)
        ):
            return candidate
    return None


def instrumented(block: Block) -> tuple[str, int]:
    """The block's code with each stated value checked; and how many are."""
    source = block.text
    comments = {
        token.start[0]: token.string[1:].strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    parts = [
        "def _readme_says(line, code, value, stated):\n"
        "    assert value == stated, f'README.md:{line}: {code} is {value!r}, README says {stated!r}'\n"
    ]
    checked = 0
    for statement in ast.parse(source).body:
        code = ast.get_source_segment(source, statement)
        stated = _stated_value(comments.get(statement.end_lineno, ""))
        if isinstance(statement, ast.Expr) and stated is not None:
            line = block.line + statement.lineno - 1
            parts.append(f"_readme_says({line}, {code!r}, ({code}), ({stated}))")
            checked += 1
        else:
            parts.append(code)
    return "\n".join(parts) + "\n", checked


@pytest.mark.parametrize("block", blocks_of("python"))
def test_python_block_runs(block: Block):
    skip_if_not_run(block)
    script, checked = instrumented(block)
    env = {**os.environ, "PYTHONUTF8": "1"}
    env.pop("INSPECTOR_RAISE_ERRORS", None)
    result = subprocess.run(  # from stdin, so that the checkout is on sys.path as for `python` typed in it
        [sys.executable, "-"], input=script, cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8"
    )
    if result.returncode != 0:
        pytest.fail(f"{block.id} fails ({checked} stated values checked):\n{result.stderr}", pytrace=False)


def test_stated_values_are_recognised():
    assert _stated_value("32, 64, (3, 3)") == "32, 64, (3, 3)"
    assert _stated_value("(64, 32, 3, 3): canonical layout (O, I/g, *k), read-only") == "(64, 32, 3, 3)"
    assert _stated_value("'W[5]': NumPy code on the stored array") == "'W[5]'"
    assert _stated_value("range(0, 32): the input maps it reads") == "range(0, 32)"
    for prose in ("shared weights count once", "or a loaded model", "F_7,5, the 3×3 kernel", "in a project's own"):
        assert _stated_value(prose) is None


# ---------------------------------------------------------------------------------------------------------------
# toml, shell and the JSON sketch


@pytest.mark.parametrize("block", blocks_of("toml", "json"))
def test_data_block_parses(block: Block):
    skip_if_not_run(block)
    if block.kind == "json":
        json.loads(block.text)
        return
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    from inspector.plugin_manager import ENTRY_POINT_GROUP

    document = tomllib.loads(block.text)
    assert ENTRY_POINT_GROUP in document["project"]["entry-points"], "plugins register under the group `inspector`"


def _commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, split at ``&&``, ``||`` and ``;``, environment assignments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in ("&&", "||", ";"):
            commands.append([])
        elif commands[-1] or not re.fullmatch(r"[A-Za-z_]\w*=.*", word):
            commands[-1].append(word)
    return [command for command in commands if command]


@pytest.mark.parametrize("block", blocks_of("shell"))
def test_shell_block(block: Block):
    skip_if_not_run(block)
    bash = shutil.which("bash")
    if bash:
        syntax = subprocess.run([bash, "-n"], input=block.text, capture_output=True, text=True)
        assert syntax.returncode == 0, f"{block.id}: {syntax.stderr}"
    top_level = {path.name for path in ROOT.iterdir() if not path.name.startswith(".venv")}
    for line in block.text.splitlines():
        for command in _commands(line):
            for word in command:
                value = word.split("=", 1)[-1]
                if "/" in value and value.split("/")[0] in top_level:
                    assert (ROOT / value).exists(), f"{block.id}: {value} is not in the checkout"
            if Path(command[0]).name == "inspect":
                result = run_inspect(command[1:])
                assert result.returncode == 0, f"{block.id}: `{shlex.join(command)}`:\n{result.stdout}"


def _keys(document, into: set[str]) -> set[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            into.add(key)
            _keys(value, into)
    elif isinstance(document, list):
        for value in document:
            _keys(value, into)
    return into


@pytest.mark.parametrize("block", blocks_of("json-sketch"))
def test_json_sketch_names_real_keys(block: Block):
    skip_if_not_run(block)
    named = {
        match[1]
        for match in re.finditer(r'"([A-Za-z_]\w*)"', block.text)
        if not block.text[: match.start()].rstrip().endswith((":", "|"))  # a key, not a value
    }
    real: set[str] = set()
    for args in (
        ["--validate", "--layer", "conv2", "--filter", "conv2:0", "samples/seed.onnx"],
        ["samples/broken_grouped.onnx"],
    ):
        result = run_inspect(["--format", "json", *args])
        _keys(report_json(result.stdout), real)
    assert named - real == set(), "the README's JSON sketch names keys that no report has"


@pytest.mark.parametrize("block", blocks_of("tree"))
def test_tree_names_real_paths(block: Block):
    # Each entry line names paths (``model/``, ``errors.py, version.py``) before its description; a folder opens a
    # level, its entries indented under it.  Lines indented as far as the descriptions continue one.
    root = README.parent
    package = Path(inspector.__file__).resolve().parent  # the package as installed, laid out as in the checkout
    stack: list[tuple[int, Path]] = []
    checked = 0
    for line in block.text.splitlines():
        indent = len(line) - len(line.lstrip())
        if not line.strip() or indent >= 20:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else root
        for token in line.strip().split("  ")[0].split(", "):
            name = token.split(" ")[0]
            if re.fullmatch(r"[\w./-]+(/|\.py|\.txt)", name):
                path = package if (parent, name) == (root, "inspector/") else parent / name.rstrip("/")
                assert path.exists(), f"README's layout names {path}, which does not exist"
                checked += 1
                if name.endswith("/") and token == name:
                    stack.append((indent, path))
    assert checked > 10


# ---------------------------------------------------------------------------------------------------------------
# README's prose about the report


def test_lowest_versions_are_those_pinned():
    text = README.read_text(encoding="utf-8")
    stated = re.search(r"`constraints/lowest\.txt` \(([^)]*)\)", text)
    assert stated, "README names the lowest versions after `constraints/lowest.txt`"
    pinned = dict(
        line.split("==") for line in (ROOT / "constraints/lowest.txt").read_text().splitlines() if "==" in line
    )
    for item in re.split(r",\s+", stated[1]):
        name, version = item.split()
        assert pinned.get(name) == version, f"README says {name} {version}, constraints/lowest.txt pins {pinned}"


def test_broken_model_validates_as_described():
    """`ok` passes standalone, `bad_grouped` is an error, errored layers are error findings (exit 1)."""
    result = run_inspect(["--validate", "samples/broken_grouped.onnx"])
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert any(line.startswith("ok standalone ✔ passed ") for line in lines), result.stdout
    assert "bad_grouped standalone ✘ error" in lines, result.stdout
    assert any(line.startswith("✘ error [validation] bad_grouped:") for line in lines), result.stdout


def test_open_dims_are_shown_as_the_file_names_them(tmp_path):
    """An unnamed batch dim is N, a named one its name, other open dims ?, and MACs that depend on them ?."""
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, "height", 0])
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "W")
    conv = helper.make_node("Conv", ["x", "W"], ["y"], name="conv")
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(
        helper.make_graph([conv], "open", [image], [out], [weight]), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.save(model, tmp_path / "open.onnx")

    result = run_inspect([str(tmp_path / "open.onnx")])
    assert result.returncode == 0, result.stdout
    assert "inputs: x N×3×height×?" in result.stdout
    totals = next(line for line in result.stdout.splitlines() if line.startswith("Total params"))
    assert "MACs at least 0 per sample (1 layer of unknown size; give the input's open dims" in totals
    conv_row = next(line for line in result.stdout.splitlines() if line.startswith("conv "))
    assert conv_row.rstrip().endswith("?")

    fixed = run_inspect([str(tmp_path / "open.onnx"), "--input-shape", "x:1x3x8x8"])
    assert fixed.returncode == 0, fixed.stdout
    assert "MACs 3,888 per sample" in fixed.stdout  # 4 out × 6×6 positions × 3·3·3


def test_export_filters_as_described(tmp_path):
    """`<layer>/weight` and `<layer>/bias` of every conv layer, read by plain NumPy; what it wrote on stderr."""
    target = tmp_path / "f.npz"
    result = run_inspect(["samples/seed.onnx", "--export-filters", str(target)], console=False)
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stderr and str(target) not in result.stdout
    with np.load(target, allow_pickle=False) as arrays:
        assert sorted(arrays) == ["conv1/bias", "conv1/weight", "conv2/bias", "conv2/weight"]
        assert arrays["conv2/weight"].shape == (64, 32, 3, 3)


def test_made_up_sizes_are_named_in_the_verdict():
    """After a Keras `Lambda` the layer runs at a made-up size, and the verdict says which layers did."""
    result = run_inspect(["--validate", "samples/keras/k2_lambda_layer.h5"])
    assert result.returncode == 0, result.stdout
    verdict = next(line for line in result.stdout.splitlines() if "validation passed" in line)
    assert verdict.startswith("✔ validation passed: 2 of 2 conv layers") and verdict.endswith("(conv_after)")
    assert "! warning [keras-layer] lambda_scale_shift:" in result.stdout  # listed as other, with a warning
