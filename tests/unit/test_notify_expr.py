"""The trigger expression language (bot.notify.expr): syntax, semantics, safety, bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.notify.expr import (
    ExprEvalError,
    ExprSyntaxError,
    Function,
    GoDuration,
    Namespace,
    compile_expr,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
APP: dict[str, Any] = {
    "metadata": {"name": "guestbook", "labels": {"team": "web"}},
    "spec": {"source": {"repoURL": "https://git.example/guestbook.git"}},
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy", "lastTransitionTime": "2024-05-01T11:58:00Z"},
        "operationState": {
            "phase": "Succeeded",
            "message": 'successfully synced "all" resources',
            "startedAt": "2024-05-01T11:50:00Z",
            "finishedAt": "2024-05-01T11:57:30Z",
            "syncResult": {"revision": "abc123"},
        },
        "conditions": [
            {"type": "SharedResourceWarning", "message": "shared"},
            {"type": "ComparisonError", "message": "boom"},
        ],
        "history": [{"revision": "aaa", "id": 1}, {"revision": "abc123", "id": 2}],
    },
}


def ev(source: str, **variables: Any) -> Any:
    env = {"app": APP, "context": {"argocdUrl": "https://cd.example"}, **variables}
    return compile_expr(source).evaluate(env, now=NOW)


def syntax_error(source: str) -> ExprSyntaxError:
    with pytest.raises(ExprSyntaxError) as info:
        compile_expr(source)
    return info.value


def eval_error(source: str, **variables: Any) -> ExprEvalError:
    with pytest.raises(ExprEvalError) as info:
        ev(source, **variables)
    return info.value


# -- literals ---------------------------------------------------------------------------------
def test_string_literals_single_double_and_raw() -> None:
    assert ev("'a' + \"b\" + `c\\n`") == "abc\\n"


def test_string_escapes() -> None:
    assert ev(r"'it\'s\n\t\u00e9'") == "it's\n\té"


def test_numbers_int_float_hex_and_separators() -> None:
    assert ev("[1_000, 0x1F, 2.5, .5, 1e3]") == [1000, 31, 2.5, 0.5, 1000.0]


def test_bool_nil_array_and_map_literals() -> None:
    assert ev("[true, false, nil, {a: 1, 'b c': [2]}]") == [True, False, None, {"a": 1, "b c": [2]}]


def test_comments_are_ignored() -> None:
    assert ev("1 /* one */ + 2 // two") == 3


# -- member access ----------------------------------------------------------------------------
def test_member_and_index_access() -> None:
    assert (
        ev("app.metadata['name'] + '/' + app.status.conditions[1].type")
        == "guestbook/ComparisonError"
    )


def test_negative_index_and_slice() -> None:
    assert ev("[app.status.history[-1].id, app.status.history[:1][0].id, 'abcdef'[1:3]]") == [
        2,
        1,
        "bc",
    ]


def test_missing_key_is_nil() -> None:
    assert ev("app.metadata.deletionTimestamp == nil") is True


def test_field_of_nil_is_an_error_naming_the_nil_part() -> None:
    assert "'app.status.missing' is nil" in str(eval_error("app.status.missing.phase == 'x'"))


def test_optional_chaining_short_circuits_the_whole_chain() -> None:
    assert ev("app.status.missing?.phase.deeper.still") is None


def test_optional_index() -> None:
    assert ev("app.status.missing?.[0]") is None


def test_optional_chaining_reads_present_values() -> None:
    assert ev("app.status.operationState?.syncResult?.revision") == "abc123"


def test_unknown_variable_is_nil() -> None:
    assert ev("nosuchvar == nil") is True


def test_index_out_of_range_is_an_error() -> None:
    assert "out of range" in str(eval_error("app.status.conditions[5].type"))


# -- comparison and logic ---------------------------------------------------------------------
def test_numbers_compare_across_int_and_float() -> None:
    assert ev("1 == 1.0 and 2 > 1.5 and 3 >= 3 and 1 <= 1 and 1 != 2") is True


def test_bool_never_equals_a_number() -> None:
    assert ev("true == 1") is False


def test_equality_of_different_types_is_false_not_an_error() -> None:
    assert ev("'1' == 1 or nil == 0 or [1] == {a: 1}") is False


def test_deep_equality_of_arrays_and_maps() -> None:
    assert ev("[1, {a: [2]}] == [1.0, {a: [2]}]") is True


def test_ordering_with_nil_is_false() -> None:
    assert ev("nil < 1 or nil > 1 or app.status.nothing >= 0") is False


def test_ordering_of_mismatched_types_is_an_error() -> None:
    assert "cannot compare string < int" in str(eval_error("'a' < 1"))


def test_in_and_not_in_over_arrays_and_maps() -> None:
    assert ev("'Succeeded' in ['Succeeded'] and 'team' in app.metadata.labels and 'x' not in ['y']")


def test_in_nil_is_false() -> None:
    assert ev("'x' in app.status.nothing") is False


def test_word_and_symbol_logic_operators() -> None:
    assert ev("(true and not false) && !(false || false) and (false or true)") is True


def test_and_short_circuits_before_a_nil_access() -> None:
    assert ev("app.status.missing != nil and app.status.missing.phase == 'x'") is False


def test_nil_counts_as_false_in_logic() -> None:
    assert ev("!app.spec.syncPolicy") is True


def test_non_bool_in_logic_is_an_error() -> None:
    assert "must be a bool" in str(eval_error("'yes' and true"))


def test_ternary() -> None:
    assert ev("app.status.sync.status == 'Synced' ? 'ok' : 'drift'") == "ok"


def test_nil_coalescing_also_covers_nil_access() -> None:
    assert ev("[app.status.missing.phase ?? 'none', app.metadata.name ?? 'x']") == [
        "none",
        "guestbook",
    ]


# -- precedence (as expr-lang groups them) -----------------------------------------------------
def test_not_binds_tighter_than_equality() -> None:
    assert ev("!true == false") is True


def test_arithmetic_precedence() -> None:
    assert ev("1 + 2 * 3 - 4 / 2") == 5.0


def test_and_binds_tighter_than_or() -> None:
    assert ev("true or false and false") is True


def test_power_is_right_associative() -> None:
    assert ev("2 ** 3 ** 2") == 512.0


def test_coalescing_binds_tighter_than_comparison() -> None:
    assert ev("context.missing ?? 5 > 3") is True


def test_modulo_and_unary_minus() -> None:
    assert ev("[7 % 3, -2 + 1, -(1 + 1)]") == [1, -1, -2]


# -- string operators --------------------------------------------------------------------------
def test_contains_starts_with_ends_with() -> None:
    assert ev(
        "app.metadata.name contains 'test' or app.metadata.name startsWith 'guest' "
        "and app.metadata.name endsWith 'book'"
    )


def test_negated_word_operators() -> None:
    assert ev("app.metadata.name not contains 'x' and app.metadata.name not startsWith 'x'") is True


def test_string_operators_with_nil_are_false() -> None:
    assert ev("app.status.nothing contains 'x' or app.status.nothing startsWith 'x'") is False


def test_string_operator_on_a_number_is_an_error() -> None:
    assert "'contains' needs strings" in str(eval_error("1 contains 'x'"))


def test_matches_regex() -> None:
    assert ev(
        "app.spec.source.repoURL matches '^https://git\\\\.example/' "
        "and app.metadata.name not matches '^prod-'"
    )


def test_catastrophic_regex_is_refused_at_compile_time_with_column() -> None:
    assert syntax_error("app.metadata.name matches '(a+)+$'").column == 27


def test_alternation_inside_a_repeated_group_is_refused() -> None:
    assert "repeats a group" in str(syntax_error("x matches '(a|aa)*b'"))


def test_backreference_is_refused() -> None:
    assert "backreference" in str(syntax_error("x matches '(a)\\\\1'"))


def test_invalid_regex_is_a_syntax_error() -> None:
    assert "invalid regular expression" in str(syntax_error("x matches '(unclosed'"))


def test_dynamic_regex_is_checked_at_evaluation() -> None:
    assert "repeats a group" in str(
        eval_error("'aaa' matches context.pattern", context={"pattern": "(a*)*"})
    )


def test_regex_subject_length_is_bounded() -> None:
    assert "longer than" in str(eval_error("s matches 'a'", s="a" * 20000))


# -- built-in functions and predicates ---------------------------------------------------------
def test_len_of_string_array_map_and_nil() -> None:
    assert ev(
        "[len('abc'), len(app.status.conditions), len(app.metadata), len(app.status.nothing)]"
    ) == [3, 2, 2, 0]


def test_any_with_field_shorthand() -> None:
    assert ev("any(app.status.conditions, .type == 'ComparisonError')") is True


def test_all_with_braces_and_pointer() -> None:
    assert ev("all(app.status.conditions, {#.message != ''})") is True


def test_none_and_one() -> None:
    assert ev("none([1, 2], # > 2) and one([1, 2], # > 1)") is True


def test_filter_and_map() -> None:
    assert ev("map(filter(app.status.history, .id > 1), .revision)") == ["abc123"]


def test_count_find_and_find_index() -> None:
    assert ev(
        "[count([1, 2, 3], # >= 2), find([1, 2, 3], # > 1), findIndex([1, 2, 3], # > 1)]"
    ) == [2, 2, 1]


def test_index_pointer_in_predicate() -> None:
    assert ev("map(['a', 'b'], #index)") == [0, 1]


def test_predicates_over_nil_see_an_empty_array() -> None:
    assert (
        ev("any(app.status.nothing, .x == 1) or len(filter(app.status.nothing, true)) > 0") is False
    )


def test_nested_predicates_shadow_the_pointer() -> None:
    assert ev("map([[1, 2], [3]], len(filter(#, # > 1)))") == [1, 1]


def test_string_helpers() -> None:
    assert ev(
        "[lower('AB'), upper('ab'), trim(' x '), split('a,b', ','), join(['a', 'b'], '-')]"
    ) == ["ab", "AB", "x", ["a", "b"], "a-b"]


def test_conversions_and_numbers() -> None:
    assert ev("[int('42'), float('1.5'), string(true), abs(-3), max(1, 4, 2), min(3, 1)]") == [
        42,
        1.5,
        "true",
        3,
        4,
        1,
    ]


def test_keys_values_first_last_type() -> None:
    assert ev("[keys({a: 1}), values({a: 1}), first([1, 2]), last([1, 2]), type(nil)]") == [
        ["a"],
        [1],
        1,
        2,
        "nil",
    ]


def test_unknown_function_is_an_error() -> None:
    assert "unknown function 'nope'" in str(eval_error("nope(1)"))


def test_wrong_arity_is_an_error() -> None:
    assert "wrong number or types of arguments for len()" in str(eval_error("len(1, 2)"))


def test_strings_namespace() -> None:
    assert ev("strings.ToUpper(strings.ReplaceAll('a-b', '-', '_'))") == "A_B"


# -- time --------------------------------------------------------------------------------------
def test_time_now_is_the_injected_now() -> None:
    assert ev("time.Now().Unix()") == int(NOW.timestamp())


def test_time_now_without_now_is_an_error() -> None:
    with pytest.raises(ExprEvalError, match="no current time"):
        compile_expr("time.Now()").evaluate({})


def test_minutes_since_operation_start() -> None:
    assert (
        ev("time.Now().Sub(time.Parse(app.status.operationState.startedAt)).Minutes() >= 5") is True
    )


def test_time_arithmetic_and_duration_comparison() -> None:
    assert (
        ev("time.Now() - time.Parse(app.status.operationState.finishedAt) < 3 * time.Minute")
        is True
    )


def test_add_before_after_equal() -> None:
    assert ev(
        "time.Parse('2024-05-01T11:58:00Z').Add(1 * time.Minute)"
        ".Before(time.Parse('2024-05-01T11:59:30+00:00')) "
        "and time.Now().After(time.Parse('2024-05-01T11:00:00Z')) "
        "and time.Parse('2024-05-01T13:00:00+01:00').Equal(time.Now())"
    )


def test_duration_methods_and_constants() -> None:
    assert ev(
        "[(90 * time.Second).Minutes(), time.Hour.Seconds(), duration('1h30m').Hours(), "
        "(2 * time.Minute).String()]"
    ) == [1.5, 3600.0, 1.5, "2m0s"]


def test_parse_of_bad_time_is_an_error_without_quoting_the_value() -> None:
    assert "secret-ish" not in str(eval_error("time.Parse(context.v)", context={"v": "secret-ish"}))


def test_parse_of_nil_is_an_error() -> None:
    assert "time.Parse needs a string, not nil" in str(eval_error("time.Parse(app.status.nothing)"))


def test_argo_on_deployed_condition() -> None:
    assert (
        ev(
            "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded'] "
            "and app.status.health.status == 'Healthy' and "
            "(!time.Parse(app.status.health.lastTransitionTime).Add(1 * time.Minute)"
            ".Before(time.Parse(app.status.operationState.finishedAt)) "
            "or time.Parse(app.status.health.lastTransitionTime)"
            ".Before(time.Parse(app.status.operationState.startedAt)))"
        )
        is True
    )


# -- errors name the expression and the column --------------------------------------------------
def test_syntax_error_names_expression_and_column() -> None:
    err = syntax_error("app.status == = 'x'")
    assert (err.column, err.expression) == (15, "app.status == = 'x'")


def test_syntax_error_message_mentions_column() -> None:
    assert "at column 12" in str(syntax_error("app.name ==")) and "'app.name =='" in str(
        syntax_error("app.name ==")
    )


def test_unterminated_string_column() -> None:
    assert syntax_error("a == 'open").column == 6


def test_unbalanced_parenthesis() -> None:
    assert "expected ')'" in str(syntax_error("(a == 1"))


def test_missing_ternary_branch() -> None:
    assert "expected ':'" in str(syntax_error("a ? b"))


def test_empty_expression() -> None:
    assert "empty" in str(syntax_error("   "))


def test_pointer_outside_predicate() -> None:
    assert "only allowed inside a predicate" in str(syntax_error("# > 1"))


def test_unsupported_operators_say_so() -> None:
    assert "'=' is not an operator" in str(syntax_error("a = 1"))


def test_evaluation_error_names_expression_and_column() -> None:
    err = eval_error("1 + app.status.missing.phase")
    assert (err.expression, err.column) == ("1 + app.status.missing.phase", 24)


# -- safety: no Python is reachable -------------------------------------------------------------
def test_dunder_import_is_just_an_unknown_function() -> None:
    assert "unknown function '__import__'" in str(eval_error("__import__('os').system('true')"))


def test_dunder_names_are_plain_nil_variables() -> None:
    assert ev("[__builtins__, __import__, app.__class__, app.__dict__]") == [None, None, None, None]


def test_no_attributes_of_python_values() -> None:
    assert "has no fields" in str(eval_error("'abc'.__class__"))


def test_namespace_exposes_only_its_members() -> None:
    assert "time has no member '__init__'" in str(eval_error("time.__init__"))


def test_time_values_expose_only_listed_methods() -> None:
    assert "has no method '__class__'" in str(eval_error("time.Now().__class__"))


def test_eval_and_exec_are_not_functions() -> None:
    assert "unknown function 'eval'" in str(eval_error("eval('1')"))


def test_python_callables_in_data_are_not_callable() -> None:
    assert "not a function" in str(eval_error("data.f()", data={"f": print}))


def test_caller_namespace_functions_are_callable() -> None:
    repo = Namespace("repo", {"Short": lambda sha: sha[:3]})
    assert ev("repo.Short(app.status.sync.revision)", repo=repo) == "abc"


def test_function_values_from_namespace() -> None:
    assert isinstance(ev("time.Now"), Function)


# -- bounds -------------------------------------------------------------------------------------
def test_source_length_is_bounded() -> None:
    assert "longer than" in str(syntax_error("1" + " + 1" * 5000))


def test_parenthesis_nesting_is_bounded() -> None:
    assert "nested deeper" in str(syntax_error("(" * 200 + "1" + ")" * 200))


def test_long_operator_chains_are_bounded() -> None:
    assert "nested deeper" in str(syntax_error(" + ".join(["1"] * 500)))


def test_evaluation_step_budget() -> None:
    with pytest.raises(ExprEvalError, match="too many steps"):
        compile_expr("map(xs, map(xs, map(xs, # + 1)))").evaluate({"xs": list(range(100))})


def test_huge_power_is_refused() -> None:
    assert "out of range" in str(eval_error("10 ** 10 ** 10"))


def test_division_by_zero() -> None:
    assert "division by zero" in str(eval_error("1 / 0"))


# -- compile once, evaluate many ----------------------------------------------------------------
def test_one_compiled_expression_over_many_apps() -> None:
    expr = compile_expr("app.status.sync.status == 'OutOfSync'")
    apps = [{"status": {"sync": {"status": s}}} for s in ("Synced", "OutOfSync", "Unknown")]
    assert [expr.evaluate({"app": a}) for a in apps] == [False, True, False]


def test_names_lists_top_level_variables() -> None:
    assert compile_expr("len(app.x) > 0 and previous?.y == context.z and any(a, .b)").names() == {
        "app",
        "previous",
        "context",
        "a",
    }


def test_durations_compare_as_nanoseconds() -> None:
    assert ev("d > 1000 and d == 2 * time.Microsecond", d=GoDuration(2000)) is True


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        compile_expr("true").evaluate({}, now=datetime(2024, 1, 1))
