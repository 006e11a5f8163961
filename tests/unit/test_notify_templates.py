"""Notification templates (bot.notify.templates*): data rendered leaf by leaf, the catalog,
Go-template translation, the sandbox and errors that name the template and field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.notify.templates import (
    Notification,
    SlackMessage,
    Template,
    TemplateError,
    parse_template,
    parse_templates,
    render_notification,
)
from bot.notify.templates_catalog import CATALOG, catalog_templates, templates_with_catalog
from bot.notify.templates_env import mrkdwn_escape, repo_https, short_sha, slack_date
from bot.notify.templates_go import GoTemplateError, looks_like_go_template, translate_go_template
from bot.notify.templates_vars import drift_from_status, template_variables
from bot.notify.triggers import evaluate_triggers
from bot.notify.triggers_catalog import catalog_triggers
from reconciler.errors import ConfigError
from reconciler.event_types import CommitSummary, DriftChange
from reconciler.model import ResourceKey
from sandbox.slack_blocks import block_errors
from sandbox.slack_limits import message_content

FIXTURE = Path(__file__).parent / "fixtures" / "notify" / "application-sync-failed.yaml"
SHA = "53e28ff20cc530b9ada2173fbbd64d48338583ba"
NASTY = 'Fix "quoted" thing\n\nwith `backticks`, a \\ backslash, }} braces and <!channel> & <@U123>'
COMMIT = CommitSummary(sha=SHA, author="Eve <eve@example.com>", message=NASTY)
CONTEXT = {"argocdUrl": "https://kajitori.example.com/"}
# Templates about something other than a commit (drift, removal, an unknown status).
NO_COMMIT = {"app-deleted", "app-out-of-sync", "app-sync-status-unknown"}


@pytest.fixture
def app() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    return data


def variables(app: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("context", CONTEXT)
    return template_variables(app, **kwargs)


def fields_of(attachment: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for f in attachment["fields"]}


def slack_of(note: Notification) -> SlackMessage:
    assert note.slack is not None
    return note.slack


def first_attachment(note: Notification) -> dict[str, Any]:
    attachments = slack_of(note).attachments
    assert attachments
    return attachments[0]


def one(raw: dict[str, Any], name: str = "t", **kwargs: Any) -> Template:
    return parse_template(name, raw, **kwargs)


# -- data, not strings ------------------------------------------------------------------------


def test_commit_message_with_quotes_newlines_backticks_and_channel_renders_as_data(
    app: dict[str, Any],
) -> None:
    note = catalog_templates()["app-deployed"].render(variables(app, commit=COMMIT))
    commit_field = fields_of(first_attachment(note))["Commit"]
    assert commit_field == f"`53e28ff` {mrkdwn_escape(NASTY)}"
    assert json.loads(json.dumps(note.slack_payload())) == note.slack_payload()
    assert "<!channel>" not in json.dumps(note.slack_payload())


def test_argo_json_string_attachments_are_parsed_first_then_rendered_leaf_by_leaf(
    app: dict[str, Any],
) -> None:
    raw = {
        "message": "x",
        "slack": {
            "attachments": '[{"title": "{{.app.metadata.name}}", "color": "#18be52",'
            ' "fields": [{"title": "Msg", "value": "{{.commit.message}}", "short": true}]}]'
        },
    }
    note = one(raw).render(variables(app, commit=COMMIT))
    assert slack_of(note).attachments == [
        {
            "title": "guestbook",
            "color": "#18be52",
            "fields": [{"title": "Msg", "value": NASTY, "short": True}],
        }
    ]


def test_operation_message_with_quotes_stays_one_string_value(app: dict[str, Any]) -> None:
    note = catalog_templates()["app-sync-failed"].render(variables(app))
    assert 'Job "db-migrate" failed: "exit code 1"' in note.message


def test_argo_catalog_form_with_go_actions_outside_strings_is_refused_with_a_hint() -> None:
    argo = (
        '[{"title": "{{ .app.metadata.name}}", "fields": [{"title": "Repository", "value": '
        '"{{.app.spec.source.repoURL}}"} {{range $i, $c := .app.status.conditions}}, '
        '{"title": "{{$c.type}}"}{{end}}]}]'
    )
    with pytest.raises(TemplateError) as err:
        one({"slack": {"attachments": argo}}, "app-deployed")
    assert err.value.template == "app-deployed" and err.value.field == "slack.attachments"
    assert "not valid JSON" in str(err.value) and "$when / $each" in str(err.value)


def test_when_each_and_optional_keys(app: dict[str, Any]) -> None:
    raw = {
        "slack": {
            "attachments": [
                {
                    "title": "t",
                    "title_link?": "{{ context.nothing }}",
                    "author_name?": "{{ app.metadata.name }}",
                    "fields": [
                        {"$when": "commit", "title": "Author", "value": "{{ commit.author }}"},
                        {"$each": "c in app.status.conditions", "title": "{{ c.type }}"},
                        {
                            "$each": "r in app.status.resources",
                            "$when": "r.kind == 'Service'",
                            "title": "{{ r.name }}",
                        },
                    ],
                }
            ]
        }
    }
    with_commit = first_attachment(one(raw).render(variables(app, commit=COMMIT)))
    without = first_attachment(one(raw).render(variables(app)))
    assert "title_link" not in with_commit and with_commit["author_name"] == "guestbook"
    assert with_commit["fields"] == [
        {"title": "Author", "value": "Eve <eve@example.com>"},
        {"title": "SyncError"},
        {"title": "guestbook-ui"},
    ]
    assert without["fields"] == [{"title": "SyncError"}, {"title": "guestbook-ui"}]


def test_each_over_a_non_list_is_an_error_naming_the_field(app: dict[str, Any]) -> None:
    raw = {"slack": {"attachments": [{"fields": [{"$each": "c in app.metadata.name"}]}]}}
    with pytest.raises(TemplateError, match=r"slack\.attachments\[0\]\.fields\[0\]\.\$each"):
        one(raw).render(variables(app))


def test_blocks_render_and_pass_slacks_block_kit_checks(app: dict[str, Any]) -> None:
    raw = {
        "message": "{{ app.metadata.name }}",
        "slack": {
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": "{{ app.metadata.name }}"},
                },
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "{{ commit.message | mrkdwn }}"},
                },
                {
                    "$when": "context.argocdUrl",
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open"},
                            "url": "{{ context.argocdUrl }}applications/{{ app.metadata.name }}",
                        }
                    ],
                },
            ]
        },
    }
    note = one(raw).render(variables(app, commit=COMMIT))
    blocks = slack_of(note).blocks
    assert blocks is not None and block_errors(blocks) == []
    assert blocks[1]["text"]["text"] == mrkdwn_escape(NASTY)
    assert [b["type"] for b in blocks] == ["header", "section", "actions"]
    assert message_content(note.slack_payload()).blocks == blocks


def test_blocks_need_a_type() -> None:
    with pytest.raises(TemplateError, match=r"slack\.blocks\[0\]: a block needs a 'type'"):
        one({"slack": {"blocks": [{"text": "x"}]}})


# -- the catalog ------------------------------------------------------------------------------


def test_every_catalog_trigger_sends_catalog_templates() -> None:
    templates = catalog_templates()
    sends = {name for t in catalog_triggers().values() for c in t.conditions for name in c.send}
    assert sends <= set(templates) and len(templates) == 11


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("with_extras", [True, False])
def test_every_catalog_template_renders_within_slack_limits(
    app: dict[str, Any], name: str, with_extras: bool
) -> None:
    extras: dict[str, Any] = (
        {"commit": COMMIT, "context": CONTEXT} if with_extras else {"context": {}}
    )
    note = catalog_templates()[name].render(template_variables(app, **extras))
    content = message_content(note.slack_payload())
    attachment = first_attachment(note)
    assert content.text and content.attachments == slack_of(note).attachments
    assert attachment["title"] == "guestbook" and attachment["color"].startswith("#")
    assert ("title_link" in attachment) is with_extras
    assert ("Author" in fields_of(attachment)) is (with_extras and name not in NO_COMMIT)
    assert "<!channel>" not in json.dumps(note.slack_payload())


def test_catalog_deployed_looks_like_argos_message(app: dict[str, Any]) -> None:
    note = catalog_templates()["app-deployed"].render(variables(app, commit=COMMIT))
    attachment = first_attachment(note)
    assert attachment["title_link"] == "https://kajitori.example.com/applications/guestbook"
    assert attachment["color"] == "#18be52"
    assert fields_of(attachment)["Sync Status"] == "OutOfSync"
    assert fields_of(attachment)["Repository"] == (
        ":arrow_heading_up: git@github.com:argoproj/argocd-example-apps.git"
    )
    assert fields_of(attachment)["Revision"] == SHA
    assert fields_of(attachment)["Author"] == "Eve &lt;eve@example.com&gt;"
    assert fields_of(attachment)["SyncError"].endswith('&lt;reason="hook"&gt;')
    assert note.message.startswith(":white_check_mark: <https://kajitori.example.com/")


def test_catalog_operation_templates_share_one_thread_per_sync(app: dict[str, Any]) -> None:
    keys = {
        name: slack_of(catalog_templates()[name].render(variables(app)))
        for name in ("app-sync-running", "app-sync-succeeded", "app-deployed", "app-sync-failed")
    }
    assert {s.grouping_key for s in keys.values()} == {"guestbook/sync/2024-05-01T10:00:00Z"}
    assert {s.delivery_policy for s in keys.values()} == {"PostAndUpdate"}
    del app["status"]["operationState"]
    assert slack_of(catalog_templates()["app-deployed"].render(variables(app))).grouping_key == ""


def test_catalog_sync_failed_lists_failed_resources(app: dict[str, Any]) -> None:
    note = catalog_templates()["app-sync-failed"].render(variables(app))
    assert fields_of(first_attachment(note))["Failed"] == (
        'Deployment/guestbook-ui: the server rejected "replicas": must be &gt;= 0\n'
        "Job/db-migrate: Job has reached the specified backoff limit"
    )


def test_catalog_out_of_sync_names_objects_fields_and_field_managers(app: dict[str, Any]) -> None:
    drift = [
        DriftChange(
            ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui"),
            fields=("spec.replicas", "spec.template.spec.containers[0].image"),
            managers=("kubectl-edit",),
            diff="- replicas: 3\n+ replicas: 5",
        ),
        DriftChange(
            ResourceKey("", "Secret", "guestbook", "db"),
            fields=("data.password",),
            managers=("kubectl-client-side-apply",),
            diff="data.password: +++ masked",
        ),
    ]
    note = catalog_templates()["app-out-of-sync"].render(variables(app, drift=drift))
    fields = fields_of(first_attachment(note))
    assert "2 objects differ" in note.message and "Sync the app" in note.message
    assert fields["Deployment.apps/guestbook/guestbook-ui"] == (
        "`spec.replicas`, `spec.template.spec.containers[0].image`\nchanged by kubectl-edit"
    )
    assert fields["Secret/guestbook/db"] == "`data.password`\nchanged by kubectl-client-side-apply"
    assert "masked" not in json.dumps(note.slack_payload())


def test_catalog_out_of_sync_falls_back_to_status_resources(app: dict[str, Any]) -> None:
    note = catalog_templates()["app-out-of-sync"].render(variables(app))
    assert "1 object differs" in note.message
    assert fields_of(first_attachment(note))["Deployment.apps/guestbook/guestbook-ui"] == (
        "differs from Git"
    )
    assert drift_from_status(app)[0]["resource"] == "Deployment.apps/guestbook/guestbook-ui"


def test_catalog_out_of_sync_caps_the_list_at_ten_objects(app: dict[str, Any]) -> None:
    drift = [DriftChange(ResourceKey("", "ConfigMap", "ns", f"cm{i}")) for i in range(13)]
    note = catalog_templates()["app-out-of-sync"].render(variables(app, drift=drift))
    fields = fields_of(first_attachment(note))
    assert "cm9" in json.dumps(fields) and "cm10" not in json.dumps(fields)
    assert fields["More"] == "and 3 more objects"


def test_catalog_approval_required_names_the_gated_step(app: dict[str, Any]) -> None:
    note = catalog_templates()["app-approval-required"].render(variables(app, commit=COMMIT))
    assert (
        "waits for approval before batch/Job/guestbook/db-migrate: Run the database" in note.message
    )
    assert fields_of(first_attachment(note))["Requested by"] == "alice"


def test_catalog_sync_running_says_auto_sync_when_automated(app: dict[str, Any]) -> None:
    app["status"]["operationState"]["operation"]["initiatedBy"] = {"automated": True}
    note = catalog_templates()["app-sync-running"].render(variables(app))
    assert "(started by auto-sync)" in note.message


def test_catalog_renders_for_a_bare_new_app() -> None:
    bare = {"metadata": {"name": "new-app"}, "spec": {}, "status": {}}
    for name, template in catalog_templates().items():
        note = template.render(template_variables(bare))
        assert "new-app" in note.message, name
        message_content(note.slack_payload())


def test_user_templates_override_the_catalog() -> None:
    user = parse_templates({"template.app-deployed": "message: shipped {{ app.metadata.name }}"})
    merged = templates_with_catalog(user)
    assert merged["app-deployed"] is user["app-deployed"] and "app-sync-failed" in merged
    assert merged["app-deployed"].render({"app": {"metadata": {"name": "g"}}}).slack is None


# -- combining and errors -----------------------------------------------------------------------


def test_several_templates_combine_like_argo() -> None:
    templates = parse_templates(
        {
            "a": {"message": "first", "slack": {"attachments": [{"title": "a"}]}},
            "b": {"message": "", "slack": {"groupingKey": "k", "deliveryPolicy": "Update"}},
            "c": {"message": "third"},
        }
    )
    note = render_notification(templates, ["a", "b", "c"], {})
    assert note.message == "third" and note.templates == ("a", "b", "c")
    assert slack_of(note).attachments is None and slack_of(note).grouping_key == "k"
    assert slack_of(note).delivery_policy == "Update"


def test_unknown_template_name_is_named_with_a_suggestion() -> None:
    with pytest.raises(
        TemplateError,
        match=r"template 'app-deploy': no such template \(did you mean 'app-deployed'\?\)",
    ):
        render_notification(catalog_templates(), ["app-deploy"], {})


def test_syntax_error_names_template_and_field() -> None:
    raw = {"slack": {"attachments": [{"fields": [{"title": "x"}, {"value": "{{ app.name"}]}]}}
    with pytest.raises(ConfigError) as err:
        parse_templates({"template.broken": raw}, source="kajitori.yaml")
    assert err.value.problems[0].startswith(
        "kajitori.yaml: template 'broken' field slack.attachments[0].fields[1].value: "
        "TemplateSyntaxError"
    )


def test_all_problems_are_listed() -> None:
    with pytest.raises(ConfigError) as err:
        parse_templates(
            {
                "a": {"slack": {"deliveryPolicy": "Later"}},
                "b": {"slack": {"groupingkey": "x"}},
                "c": {"mesage": "x"},
                "d": "message: [",
                "e": {
                    "slack": {
                        "attachments": [{"$when": "x", "title": "y"}],
                        "blocks": [{"type": "divider", "x": {"$when": "y"}}],
                    }
                },
                "bad name": {"message": "x"},
            }
        )
    text = "\n".join(err.value.problems)
    assert (
        "template 'a' field slack.deliveryPolicy: must be one of Post, PostAndUpdate, Update"
        in text
    )
    assert (
        "template 'b' field slack.groupingkey: unknown field (did you mean 'groupingKey'?)" in text
    )
    assert "template 'c' field mesage: unknown field (did you mean 'message'?)" in text
    assert "template 'd': not valid YAML (line 1, column 11)" in text
    assert (
        "template 'e' field slack.blocks[0].x.$when: is only allowed on an item of a list" in text
    )
    assert "key 'bad name'" in text and len(err.value.problems) == 6


def test_other_services_sections_are_ignored() -> None:
    template = one({"message": "m", "email": {"subject": "s"}, "teams": {"title": "t"}})
    assert template.render({}).message == "m"


def test_strict_mode_names_the_undefined_variable_and_field(app: dict[str, Any]) -> None:
    strict = one(
        {"message": "ok", "slack": {"groupingKey": "{{ app.status.nothing.here }}"}},
        "t",
        strict=True,
    )
    with pytest.raises(TemplateError) as err:
        strict.render(variables(app))
    assert err.value.field == "slack.groupingKey" and "nothing" in str(err.value)
    lenient = one({"message": "{{ app.status.nothing.here }}!"})
    assert lenient.render(variables(app)).message == "!"


# -- Go templates --------------------------------------------------------------------------------


def test_go_references_translate_to_jinja() -> None:
    source = (
        '{{if eq .serviceType "slack"}}:ok:{{end}} {{.app.metadata.name}} '
        '{{index .app.metadata.labels "team"}}'
    )
    assert translate_go_template(source) == (
        '{%+ if serviceType == "slack" +%}:ok:{%+ endif +%} {{ app.metadata.name }} '
        '{{ app.metadata.labels["team"] }}'
    )


def test_copied_argo_message_renders_like_argo(app: dict[str, Any]) -> None:
    message = (
        '{{if eq .serviceType "slack"}}:white_check_mark:{{end}} Application {{.app.metadata.name}}'
        " is now running new version.\n{{- if .app.spec.source }} From {{.app.spec.source.repoURL}}"
        "{{ else }} multi{{ end -}}\n"
        "Details: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}.\n"
    )
    note = one({"message": message}).render(variables(app))
    assert note.message == (
        ":white_check_mark: Application guestbook is now running new version. From "
        "git@github.com:argoproj/argocd-example-apps.gitDetails: "
        "https://kajitori.example.com//applications/guestbook."
    )


def test_go_else_if_and_not() -> None:
    jinja = translate_go_template('{{if not .a}}A{{else if ne .b "x"}}B{{else}}C{{end}}')
    rendered = one({"message": jinja}).render({"a": True, "b": "x"}).message
    assert rendered == "C"


@pytest.mark.parametrize(
    "source",
    [
        "{{range .app.status.conditions}}x{{end}}",
        "{{ $x := 1 }}",
        "{{(call .repo.GetCommitMetadata .app.status.sync.revision).Author}}",
        "{{ .app.metadata.name | upper }}",
        "{{if .a}}unclosed",
        "{{end}}",
    ],
)
def test_untranslatable_go_constructs_are_refused(source: str) -> None:
    assert looks_like_go_template(source)
    with pytest.raises(GoTemplateError):
        translate_go_template(source)
    with pytest.raises(TemplateError, match="template 't' field message: Go template: "):
        one({"message": source})


def test_go_literal_text_with_jinja_delimiters_is_kept_raw() -> None:
    assert (
        one({"message": "{% not jinja %} {{.a}}"}).render({"a": 1}).message == "{% not jinja %} 1"
    )


# -- the sandbox and the filters ---------------------------------------------------------------


def test_python_internals_are_out_of_reach(app: dict[str, Any]) -> None:
    lenient = one({"message": "[{{ app.__class__.__mro__ }}]"})
    assert lenient.render(variables(app)).message == "[]"
    strict = one({"message": "{{ app.__class__ }}"}, strict=True)
    with pytest.raises(TemplateError, match="unsafe"):
        strict.render(variables(app))


def test_templates_cannot_mutate_the_app(app: dict[str, Any]) -> None:
    before = copy.deepcopy(app)
    template = one({"message": "{{ app.metadata.labels.update({'x': 1}) }}"}, strict=True)
    with pytest.raises(TemplateError, match="field message"):
        template.render(variables(app))
    assert app == before


@pytest.mark.parametrize("source", ["{{ 'x' * 1000000 }}", "{{ 2 ** 1000 }}", "{{ [1] * 200000 }}"])
def test_huge_values_are_refused(source: str) -> None:
    with pytest.raises(TemplateError, match="field message: SecurityError"):
        one({"message": source}).render({})


def test_mapping_keys_win_over_dict_methods() -> None:
    note = one({"message": "{{ d.items }} {{ d.keys }}"}).render({"d": {"items": 3, "keys": "k"}})
    assert note.message == "3 k"


def test_filters() -> None:
    assert (
        mrkdwn_escape("<!channel> & <https://x|y>") == "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    )
    assert short_sha(SHA) == "53e28ff" and short_sha("v1.2.3") == "v1.2.3"
    assert repo_https("git@github.com:org/repo.git") == "https://github.com/org/repo"
    assert repo_https("ssh://git@gitlab.com:22/a/b.git") == "https://gitlab.com/a/b"
    assert repo_https("http://example.com/r/") == "https://example.com/r"
    assert slack_date("2024-05-01T10:02:00Z") == (
        "<!date^1714557720^{date_short_pretty} {time}|2024-05-01T10:02:00Z>"
    )
    assert slack_date("<soon>") == "&lt;soon&gt;"


def test_template_variables_shape(app: dict[str, Any]) -> None:
    v = template_variables(app, context={"argocdUrl": "u"}, recipient="deploys")
    assert v["context"] == {"argocdUrl": "u", "notificationType": "slack"}
    assert v["serviceType"] == "slack" and v["recipient"] == "deploys" and "commit" not in v
    c = template_variables(app, commit={"sha": SHA, "author": "a", "message": "t\n\nbody"})[
        "commit"
    ]
    assert c["title"] == "t" and c["message"] == "t\n\nbody"


def test_go_comments_and_trim_markers() -> None:
    jinja = translate_go_template("a  {{- /* note */ -}}  b {{/* kept spaces */}} c")
    assert one({"message": jinja}).render({}).message == "ab  c"


def test_a_catalog_firing_renders_through_its_send_list(app: dict[str, Any]) -> None:
    app["metadata"]["creationTimestamp"] = "2024-05-01T10:01:30Z"  # new: no baseline
    now = datetime(2024, 5, 1, 10, 2, 30, tzinfo=UTC)
    result = evaluate_triggers(catalog_triggers().values(), app, CONTEXT, now, state=None)
    fired = {f.trigger: f for f in result.firings}
    assert {"on-sync-failed", "on-health-degraded"} <= set(fired)
    note = render_notification(catalog_templates(), fired["on-sync-failed"].send, variables(app))
    assert note.templates == ("app-sync-failed",) and note.message.startswith(":x: Sync of ")
