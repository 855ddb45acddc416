"""The README's commands and its pages', as written: every `tf-parity` line of their shell blocks
parses, names files that exist, and the quick ones run. The long ones (parity, train, bench on real data) are run by
the tests of their commands and by `make run` / `make bench`."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from parity import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The README and the pages it links: every shell block of each is checked.
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "PITFALLS.md", ROOT / "CONTRIBUTING.md"]
# Run as written here: each takes seconds.
QUICK = ("tf-parity models", "tf-parity data", "tf-parity pitfalls --markdown",
         "tf-parity map --config examples/deep_mnist/pair.toml")


def shell_commands():
    """Every command of the README's ```sh blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", "".join(page.read_text() for page in PAGES), flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            # Leading VAR=value settings (KERAS_BACKEND=jax) are the shell's, not the command's.
            words = line.split()
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words:
                commands.append(" ".join(words))
    return commands


COMMANDS = shell_commands()
TF_PARITY = [c for c in COMMANDS if c.startswith("tf-parity ")]


def test_the_readme_shows_commands():
    assert len(TF_PARITY) >= 15 and set(QUICK) <= set(TF_PARITY), TF_PARITY


def test_the_readme_is_a_front_door_that_links_its_pages():
    text = README.read_text()
    assert len(text) < 10_000, f"README.md is {len(text)} characters: move detail to docs/"
    for link in re.findall(r"\]\(([^)#]+)", text):
        if "://" not in link:
            assert (ROOT / link).exists(), f"README.md links {link}, which is not in the repo"
    for page in PAGES[1:]:
        for link in re.findall(r"\]\(([^)#]+)", page.read_text()):
            if "://" not in link:
                assert (page.parent / link).exists(), f"{page.name} links {link}, which is not there"


@pytest.mark.parametrize("command", TF_PARITY)
def test_every_tf_parity_command_parses_and_names_existing_files(command):
    argv = shlex.split(command)[1:]
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{command!r} does not parse (exit {e.code})")
    for flag in ("config", "map", "legacy_meta"):
        value = getattr(args, flag, None)
        if value:
            assert (ROOT / value).is_file(), f"{command!r}: --{flag.replace('_', '-')} {value} is not in the repo"
    if args.command == "scan":
        for path in [*args.paths, args.legacy, args.eager]:
            assert path is None or (ROOT / path).exists(), f"{command!r}: {path} is not in the repo"
        return
    for flag in ("legacy", "eager", "optimizer"):
        value = getattr(args, flag, None)
        if value:
            module, function = value.split(":")
            path = ROOT / (module.replace(".", "/") + ".py")
            assert path.is_file() and f"def {function}(" in path.read_text(), f"{command!r}: {value} not found"


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.startswith("tf-parity ")])
def test_every_other_command_names_what_exists(command):
    words = shlex.split(command)
    if words[0] == "make":
        makefile = (ROOT / "Makefile").read_text()
        targets = re.findall(r"^([a-z]+):", makefile, flags=re.M)
        assert words[1] in targets, command
        for setting in (w.split("=")[0] for w in words[2:] if "=" in w):
            assert re.search(rf"^{setting} \??=", makefile, flags=re.M), f"{command!r}: the Makefile has no {setting}"
    elif words[:3] == ["python", "-m", "pytest"]:
        for target in (w for w in words[3:] if not w.startswith("-")):
            path, _, test = target.partition("::")
            assert (ROOT / path).exists(), command
            assert not test or f"def {test}(" in (ROOT / path).read_text(), command
    elif words[0] == "python":
        assert (ROOT / words[1]).is_file(), command
    else:
        pytest.fail(f"the README shows {command!r}, which no test knows how to check")


@pytest.mark.parametrize("command", QUICK)
def test_the_quick_commands_run_as_written(command):
    result = subprocess.run([str(Path(sys.executable).with_name("tf-parity")), *shlex.split(command)[1:]],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
