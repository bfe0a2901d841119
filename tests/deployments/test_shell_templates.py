"""run_shell_script: a template's value is one argument of the command its author wrote.

The script is split into commands and arguments before templates are filled in, so no value (an
environment variable, a variable, a block field, a step output) can add a command or change the
argument list. ``split_templates: true`` is Prefect's order, for scripts that rely on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codeferry.blocks import Secret
from codeferry.deployments import Step
from codeferry.errors import StepError, TemplateError
from codeferry.secrets import MASK
from codeferry.steps.engine import run_steps
from codeferry.store import get_store

pytestmark = pytest.mark.usefixtures("plugins")

# Prints each argument it gets on a line of its own, between brackets.
ARGS = f"{sys.executable} -c 'import sys; [print(f\"[{{a}}]\") for a in sys.argv[1:]]'"
HOSTILE = 'one two\ntouch {marker}; touch {marker}\n\'"$(touch {marker})"`touch {marker}`'


def run(script: str, environ: dict[str, str] | None = None, **arguments: object) -> str:
    step = Step("run_shell_script", {"script": script, "stream_output": False, **arguments}, id="s")
    result = run_steps((step,), environ=environ)
    stdout: str = result.outputs["s"]["stdout"]
    return stdout


def arguments_of(stdout: str) -> list[str]:
    """The arguments ``ARGS`` printed (each between brackets, newlines kept)."""
    return stdout[1:-1].split("]\n[") if stdout else []


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[str, Path]:
    """A value with newlines, spaces, quotes, ``;`` and substitutions, and the file it must not
    create."""
    marker = tmp_path / "injected"
    return HOSTILE.format(marker=marker), marker


@pytest.mark.parametrize("where", ["{v}", "'{v}'", '"{v}"', "x{v}y", "--opt={v}"])
def test_an_environment_value_stays_one_argument_wherever_it_is_written(
    hostile: tuple[str, Path], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value, marker = hostile
    monkeypatch.setenv("HOSTILE_VALUE", value)
    written = where.format(v="{{ $HOSTILE_VALUE }}")
    stdout = run(f"{ARGS} {written} last")
    expected = {"x{v}y": f"x{value}y", "--opt={v}": f"--opt={value}"}.get(where, value)
    assert arguments_of(stdout) == [expected, "last"]
    assert not marker.exists()


@pytest.mark.parametrize("shell", [False, True])
def test_a_newline_in_a_value_never_runs_a_second_command(tmp_path: Path, shell: bool) -> None:
    marker = tmp_path / "second-command-ran"
    environ = {"BRANCH": f"main\ntouch {marker}", "WORDS": "a b c"}
    options = {"shell": True} if shell else {}
    stdout = run(f"{ARGS} {{{{ $BRANCH }}}} {{{{ $WORDS }}}}", environ, **options)
    assert arguments_of(stdout) == [f"main\ntouch {marker}", "a b c"]
    assert not marker.exists()


def test_a_variable_with_a_newline_never_becomes_a_second_command(
    hostile: tuple[str, Path],
) -> None:
    value, marker = hostile
    get_store().set_variable("note", value)
    stdout = run(f"{ARGS} {{{{ variables.note }}}}")
    assert arguments_of(stdout) == [value]
    assert not marker.exists()


def test_a_block_field_and_a_step_output_stay_one_argument(
    hostile: tuple[str, Path],
) -> None:
    value, marker = hostile
    Secret(value=value).save("hostile")
    steps = (
        Step("run_shell_script", {"script": "echo hi", "stream_output": False}, id="first"),
        Step(
            "run_shell_script",
            {
                "script": f"{ARGS} {{{{ blocks.secret.hostile }}}} {{{{ first.stdout }}}}",
                "stream_output": False,
            },
            id="s",
        ),
    )
    stdout = run_steps(steps).outputs["s"]["stdout"]
    assert arguments_of(stdout) == [value, "hi"]
    assert not marker.exists()


def test_an_empty_value_is_an_empty_argument_not_a_missing_one() -> None:
    stdout = run(f"{ARGS} before {{{{ $EMPTY }}}} after", environ={"EMPTY": ""})
    assert arguments_of(stdout) == ["before", "", "after"]


def test_expand_env_vars_keeps_each_value_in_its_argument(
    hostile: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    value, marker = hostile
    monkeypatch.setenv("HOSTILE_VALUE", value)
    stdout = run(
        f"{ARGS} $HOSTILE_VALUE pre${{HOSTILE_VALUE}} '$GIVEN' $$HOME $NOT_SET_ANYWHERE",
        expand_env_vars=True,
        env={"GIVEN": "given value"},
    )
    assert arguments_of(stdout) == [
        value,
        f"pre{value}",
        "given value",
        "$HOME",
        "$NOT_SET_ANYWHERE",
    ]
    assert not marker.exists()


def test_without_expand_env_vars_dollar_names_are_plain_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOME_NAME", "value")
    assert arguments_of(run(f"{ARGS} $SOME_NAME")) == ["$SOME_NAME"]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("{t}", "{v}"),
        ('"in {t} double"', "in {v} double"),
        ("'in {t} single'", "in {v} single"),
        ("pre{t}post", "pre{v}post"),
    ],
)
def test_with_a_shell_a_value_is_one_word_and_never_shell_code(
    hostile: tuple[str, Path], written: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value, marker = hostile
    monkeypatch.setenv("HOSTILE_VALUE", value)
    script = f"{ARGS} {written.format(t='{{ $HOSTILE_VALUE }}')} | cat"
    stdout = run(script, shell=True)
    assert arguments_of(stdout) == [expected.format(v=value)]
    assert not marker.exists()


def test_shell_mode_runs_pipes_and_redirections(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    stdout = run(f"echo hello world | tr a-z A-Z\necho redirected > {out} && echo done", shell=True)
    assert stdout == "HELLO WORLD\ndone"
    assert out.read_text() == "redirected\n"


def test_shell_mode_refuses_a_template_after_a_backslash() -> None:
    with pytest.raises(StepError, match=r"follows a backslash"):
        run("echo \\{{ $HOME }}", shell=True)


def test_split_templates_is_prefects_order_where_a_value_makes_words_and_lines(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "made"
    environ = {"PACKAGES": "alpha beta", "MORE": f"one\ntouch {marker}"}
    stdout = run(
        f"{ARGS} {{{{ $PACKAGES }}}}\n{ARGS} {{{{ $MORE }}}}", environ, split_templates=True
    )
    assert arguments_of(stdout) == ["alpha", "beta", "one"]
    assert marker.exists()  # the opt-in runs the second line the value made


def test_split_templates_runs_a_script_held_whole_in_a_secret() -> None:
    Secret(value="echo 'I am a secret!'").save("script")
    stdout = run("{{ prefect.blocks.secret.script }}", split_templates=True)
    assert stdout == "I am a secret!"


def test_by_default_a_script_held_whole_in_a_secret_is_one_program_name() -> None:
    Secret(value="echo 'I am a secret!'").save("script")
    with pytest.raises(StepError, match="cannot run") as caught:
        run("{{ prefect.blocks.secret.script }}")
    assert "I am a secret" not in str(caught.value)


def test_a_block_or_a_mapping_from_a_block_as_an_argument_is_an_error(tmp_path: Path) -> None:
    from codeferry.system_blocks import JSON
    from codeferry_local.storage import LocalDirectory

    LocalDirectory(path=str(tmp_path)).save("here")
    JSON(value={"replicas": 3}).save("settings")
    with pytest.raises(TemplateError, match=r"run_shell_script'.*it is a block"):
        run("echo {{ blocks.local-directory.here }}")
    with pytest.raises(TemplateError, match=r"it is a mapping"):
        run("echo {{ blocks.json.settings }}")
    assert run("echo {{ blocks.json.settings.replicas }}") == "3"


def test_a_secret_filled_into_an_argument_is_masked_in_streamed_output(
    capfd: pytest.CaptureFixture[str],
) -> None:
    Secret(value="hunter2-long-secret").save("password")
    step = Step("run_shell_script", {"script": "echo pw={{ blocks.secret.password }}"}, id="s")
    result = run_steps((step,))
    assert result.outputs["s"]["stdout"] == "pw=hunter2-long-secret"
    out, err = capfd.readouterr()
    assert "hunter2-long-secret" not in out + err
    assert f"pw={MASK}" in out + err


def test_unresolvable_template_in_the_script_stops_before_any_command_runs(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(TemplateError, match=r"cannot resolve \{\{ \$NOT_SET_HERE \}\}"):
        run(f"touch {marker}\necho {{{{ $NOT_SET_HERE }}}}", environ={})
    assert marker.exists()  # lines run in order; the second line's template fails there


def test_comment_lines_are_never_resolved() -> None:
    assert run("# {{ $NOT_SET_HERE }}\necho ok", environ={}) == "ok"


def test_unbalanced_quotes_name_the_line_as_written_not_its_values() -> None:
    Secret(value="s3cr3t-value-here").save("tok")
    with pytest.raises(
        StepError, match=r"cannot split the command .*\{\{ blocks\.secret\.tok"
    ) as caught:
        run("echo '{{ blocks.secret.tok }}")
    assert "s3cr3t-value-here" not in str(caught.value)
