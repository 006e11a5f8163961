"""The simulated container command: run time from `sleep`, outcome from the exit status."""

from __future__ import annotations

import pytest

from sandbox.kube.controllers_command import RunOutcome, parse_duration, simulate

DEFAULT = 1.0


def run(command: list[str] | None = None, args: list[str] | None = None) -> RunOutcome:
    return simulate(command, args, DEFAULT)


def test_no_command_runs_the_default_time_and_succeeds() -> None:
    assert run() == RunOutcome(DEFAULT, 0)


def test_plain_sleep() -> None:
    assert run(["sleep", "5"]) == RunOutcome(5.0, 0)


def test_sleep_from_args_when_command_is_absent() -> None:
    assert run(None, ["sleep", "3"]) == RunOutcome(3.0, 0)


def test_command_and_args_are_joined() -> None:
    assert run(["sleep"], ["2"]) == RunOutcome(2.0, 0)


@pytest.mark.parametrize("program", ["false", "/bin/false", "/usr/bin/false"])
def test_false_fails(program: str) -> None:
    outcome = run([program])
    assert outcome.exit_code == 1
    assert not outcome.succeeded
    assert outcome.seconds == DEFAULT


def test_sleep_inside_sh_c_then_success() -> None:
    assert run(["sh", "-c", "echo migrating; sleep 4; echo done"]) == RunOutcome(4.0, 0)


def test_sleep_then_exit_code() -> None:
    assert run(["/bin/sh", "-c", "sleep 2; exit 3"]) == RunOutcome(2.0, 3)


def test_exit_stops_the_script() -> None:
    assert run(["sh", "-c", "exit 0; sleep 50; false"]) == RunOutcome(DEFAULT, 0)


def test_script_status_is_the_last_commands() -> None:
    assert run(["sh", "-c", "false; echo ok"]).exit_code == 0
    assert run(["sh", "-c", "echo ok; false"]).exit_code == 1


def test_errexit_stops_at_the_first_failure() -> None:
    assert run(["sh", "-ec", "false; sleep 9"]) == RunOutcome(DEFAULT, 1)
    assert run(["bash", "-c", "set -e\nfalse\nsleep 9"]) == RunOutcome(DEFAULT, 1)


def test_and_or_lists() -> None:
    assert run(["sh", "-c", "false && sleep 7"]) == RunOutcome(DEFAULT, 1)
    assert run(["sh", "-c", "false || true"]).exit_code == 0
    assert run(["sh", "-c", "sleep 1 && exit 4"]) == RunOutcome(1.0, 4)
    assert run(["sh", "-c", "true || exit 5"]).exit_code == 0


def test_negation() -> None:
    assert run(["sh", "-c", "! false"]).exit_code == 0
    assert run(["sh", "-c", "! true"]).exit_code == 1


def test_background_sleep_does_not_delay() -> None:
    assert run(["sh", "-c", "sleep 30 & exit 2"]) == RunOutcome(DEFAULT, 2)


def test_sleeps_add_up_and_accept_units() -> None:
    assert run(["sh", "-c", "sleep 1; sleep 0.5; sleep 1m"]) == RunOutcome(61.5, 0)


def test_sleep_infinity_never_ends() -> None:
    assert run(["sleep", "infinity"]).seconds is None


def test_redirections_and_comments_are_ignored() -> None:
    script = "echo hi > /tmp/x 2>&1 # comment; exit 9\nsleep 2"
    assert run(["sh", "-c", script]) == RunOutcome(2.0, 0)


def test_exit_code_wraps_like_a_shell() -> None:
    assert run(["sh", "-c", "exit 256"]).exit_code == 0
    assert run(["sh", "-c", "exit 300"]).exit_code == 44


def test_exec_and_wrappers_run_the_wrapped_command() -> None:
    assert run(["sh", "-c", "exec sleep 3"]) == RunOutcome(3.0, 0)
    assert run(["timeout", "10", "false"]).exit_code == 1
    assert run(["env", "A=1", "sleep", "2"]) == RunOutcome(2.0, 0)


def test_compound_commands_count_their_sleeps_but_not_their_exits() -> None:
    script = "if [ -f /x ]; then exit 1; fi\nfor i in 1 2; do sleep 2; done"
    assert run(["sh", "-c", script]) == RunOutcome(2.0, 0)


def test_shell_reading_a_file_is_a_default_success() -> None:
    assert run(["sh", "/scripts/migrate.sh"]) == RunOutcome(DEFAULT, 0)


def test_unbalanced_quotes_still_give_a_guess() -> None:
    assert run(["sh", "-c", "sleep 2; echo 'oops"]).seconds == 2.0


def test_bad_sleep_operand_fails() -> None:
    assert run(["sleep", "soon"]).exit_code == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5", 5.0), ("0.25", 0.25), ("2s", 2.0), ("3m", 180.0), ("1h", 3600.0), ("1d", 86400.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-1", "abc", "nan", "5x"])
def test_parse_duration_rejects(text: str) -> None:
    assert parse_duration(text) is None
