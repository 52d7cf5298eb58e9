//! The tools file's parser: the documented example, mistakes named, and any text at all.

use super::*;
use proptest::prelude::*;

fn parse(text: &str) -> Result<ToolsFile, ConfigError> {
    ToolsFile::parse(text, Path::new("tools.toml"))
}

/// A TOML value of any type, as text.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}").replace("inf", "inf").replace("NaN", "nan")),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z{}/ ._-]{0,10}".prop_map(|s| format!("{s:?}")),
        Just("[\"a\", \"b\"]".to_string()),
        Just("[\"true\"]".to_string()),
        Just("[]".to_string()),
        Just("{ type = \"object\" }".to_string()),
        Just("{ type = \"string\" }".to_string()),
        Just("\"queue\"".to_string()),
        Just("\"required\"".to_string()),
        Just("\"forbidden\"".to_string()),
    ]
}

/// A tools file made of the keys the file knows (and one it does not), with values of any
/// type: mostly wrong, sometimes right.
fn tools_file() -> impl Strategy<Value = String> {
    let server_key = prop::sample::select(vec![
        "name",
        "version",
        "instructions",
        "default_ttl_ms",
        "max_ttl_ms",
        "poll_interval_ms",
        "page_size",
        "lease_ms",
        "progress_interval_ms",
        "max_body",
        "max_requests_per_owner",
        "max_streams_per_owner",
        "max_tasks_per_owner",
        "max_queued_bytes",
        "max_tool_output_bytes",
        "max_tool_line_bytes",
        "bogus",
    ]);
    let tool_key = prop::sample::select(vec![
        "title",
        "description",
        "command",
        "steps",
        "task_support",
        "timeout_secs",
        "grace_secs",
        "cwd",
        "questions",
        "defer_task",
        "immediate_response",
        "max_attempts",
        "retry_backoff_ms",
        "dedup_window_ms",
        "run",
        "input_schema",
        "output_schema",
        "bogus",
    ]);
    let server = prop::collection::vec((server_key, toml_value()), 0..4);
    let tool = (
        prop::sample::select(vec!["a", "b", "c", ""]),
        any::<bool>(),
        prop::collection::vec((tool_key, toml_value()), 0..6),
    );
    (server, prop::collection::vec(tool, 0..4)).prop_map(|(server, tools)| {
        let mut text = String::from("[server]\n");
        for (key, value) in server {
            text += &format!("{key} = {value}\n");
        }
        for (name, runs_true, entries) in tools {
            text += &format!("[[tools]]\nname = {name:?}\n");
            if runs_true {
                text += "command = [\"true\"]\n";
            }
            for (key, value) in entries {
                text += &format!("{key} = {value}\n");
            }
        }
        text
    })
}

proptest! {
    // Parsing is cheap: search more widely than the default 256 cases.
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// Whatever the text, the parser answers: a file whose settings and tools can be made,
    /// or an error that names the file.
    #[test]
    fn any_text_parses_or_is_refused_with_a_message(text in tools_file()) {
        check_any_text(&text);
    }

    #[test]
    fn any_bytes_are_refused_or_parsed(text in ".{0,200}") {
        check_any_text(&text);
    }
}

#[test]
fn bounds_come_from_the_server_section_else_the_defaults() {
    let file = parse("[server]\nmax_body = 1000\nmax_tasks_per_owner = 3").unwrap();
    let limits = file.limits();
    assert_eq!((limits.max_body_bytes, limits.tasks_per_owner), (1000, 3));
    let d = Limits::default();
    assert_eq!(limits.requests_per_owner, d.requests_per_owner);
    assert_eq!(limits.max_queued_bytes, d.max_queued_bytes);
}

#[test]
fn a_workflow_runs_only_as_a_task_and_takes_its_first_step_arguments() {
    let file = parse(
        r#"
        [[tools]]
        name = "fetch"
        command = ["curl", "{url}"]
        input_schema = { type = "object", properties = { url = { type = "string" } }, required = ["url"] }
        [[tools]]
        name = "count"
        command = ["wc", "-l"]
        [[tools]]
        name = "pipeline"
        steps = ["fetch", "count"]
        "#,
    )
    .unwrap();
    let tools = file.tools();
    let info = tools[2].info();
    assert_eq!(info.steps, ["fetch", "count"]);
    assert_eq!(info.task_support, TaskSupport::Required);
    assert_eq!(info.input_schema, tools[0].info().input_schema);
    assert_eq!(
        info.description.as_deref(),
        Some("Runs fetch, then count, one after the other, as one task.")
    );
}

/// The reference of every key, `docs/tools-file.toml` (shown on [`ToolsFile`]), is a valid tools
/// file, and sets what it says.
#[test]
fn the_reference_file_parses() {
    let file = parse(include_str!("../../../tools-file.toml")).unwrap();
    let tools = file.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.info().name.as_str()).collect();
    assert_eq!(names, ["build", "package", "publish", "release"]);
    assert_eq!(file.settings().lease, 15_000);
    assert_eq!(file.limits().max_body_bytes, 4_194_304);
}

#[test]
fn the_documented_example_parses() {
    let file = parse(
        r#"
        [[tools]]
        name = "build"
        description = "Build the project"
        command = ["make", "-C", "{dir}"]
        task_support = "required"
        timeout_secs = 600
        input_schema = { type = "object", properties = { dir = { type = "string" } }, required = ["dir"] }
        "#,
    )
    .unwrap();
    let tools = file.tools();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].info().task_support, TaskSupport::Required);
    assert!(
        tools[0]
            .info()
            .input_schema
            .contains("\"required\":[\"dir\"]")
    );
    // The defaults, but for the secret, which is fresh in every process's settings.
    let (settings, defaults) = (file.settings(), default_settings());
    assert_ne!(settings.state_key, defaults.state_key);
    assert_eq!(
        Settings {
            state_key: String::new(),
            ..settings
        },
        Settings {
            state_key: String::new(),
            ..defaults
        }
    );
}

#[test]
fn the_example_tools_file_parses() {
    let file = parse(include_str!("../../../../examples/tools.toml")).unwrap();
    let names: Vec<String> = file.tools().iter().map(|t| t.info().name.clone()).collect();
    assert_eq!(names, ["word_count", "countdown", "disk_usage", "deploy"]);
}

#[test]
fn mistakes_are_named() {
    let err = |t: &str| parse(t).unwrap_err().to_string();
    assert!(err("[[tools]]\nname='a'\ncommand=[]").contains("command must name a program"));
    assert!(err("[[tools]]\nname='a'").contains("command must name a program"));
    let a = "[[tools]]\nname='a'\ncommand=['x']\n";
    assert!(err(&format!("{a}[[tools]]\nname='w'\nsteps=['a','b']")).contains("step 'b'"));
    assert!(
        err(&format!(
            "{a}[[tools]]\nname='w'\nsteps=['a']\ncommand=['y']"
        ))
        .contains("not both")
    );
    assert!(
        err(&format!(
            "{a}[[tools]]\nname='w'\nsteps=['a']\n[[tools]]\nname='v'\nsteps=['w']"
        ))
        .contains("is a workflow")
    );
    assert!(
        err(&format!(
            "{a}[[tools]]\nname='w'\nsteps=['a']\nmax_attempts=2"
        ))
        .contains("max_attempts belongs on the step tools")
    );
    assert!(
        err(&format!(
            "{a}[[tools]]\nname='w'\nsteps=['a']\ntask_support='optional'"
        ))
        .contains("only as a task")
    );
    assert!(
        err("[[tools]]\nname='a'\ncommand=['x']\n[[tools]]\nname='a'\ncommand=['y']")
            .contains("defined twice")
    );
    assert!(
        err("[[tools]]\nname='a'\ncommand=['x']\ntask_support='sometimes'")
            .contains("unknown variant")
    );
    assert!(err("[[tools]]\nname='a'\ncommand=['x']\ncolour='red'").contains("unknown field"));
    assert!(err("[server]\ndefault_ttl_ms=10\nmax_ttl_ms=5").contains("above max_ttl_ms"));
    assert!(err("[server]\nmax_queued_bytes=0").contains("max_queued_bytes must be at least 1"));
    assert!(err("[server]\nmax_body=-1").contains("invalid value"));
    assert!(
        err("[[tools]]\nname='a'\ncommand=['x']\ninput_schema={type='string'}")
            .contains("type = \"object\"")
    );
    assert!(err("[[tools]]\nname='a'\ncommand=['x']\ntimeout_secs=0").contains("positive"));
    assert!(
        err("[[tools]]\nname='a'\ncommand=['x']\ndefer_task=true").contains("questions = true")
    );
    assert!(
        err("[[tools]]\nname='a'\ncommand=['x']\nquestions=true\ndefer_task=true\ntask_support='forbidden'")
            .contains("task_support")
    );
}

#[test]
fn a_time_too_long_for_a_duration_is_refused() {
    // Found by the property test above: finite, positive, and past what a `Duration` holds.
    let text = "[[tools]]\nname = \"a\"\ncommand = [\"true\"]\ntimeout_secs = 1.2e70\n";
    let Err(e) = parse(text) else {
        panic!("a timeout of 1.2e70 s was taken")
    };
    assert!(
        e.to_string()
            .contains("timeout_secs must be a positive number of seconds"),
        "{e}"
    );
    check_any_text(text);
}
