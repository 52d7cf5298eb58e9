//! The state-machine component stands alone: it imports no store, no server and no router,
//! only what any WASI host gives, and its rules are the spec's.

mod fixtures;

use mcp_tasks::types::{Status, Task};
use mcp_tasks::{
    ComponentSource, EMBEDDED_MACHINE_COMPONENT, GuestError, Machine, TransitionError,
};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

const STATUSES: [Status; 5] = [
    Status::Working,
    Status::InputRequired,
    Status::Completed,
    Status::Failed,
    Status::Cancelled,
];

#[test]
fn it_imports_nothing_of_ours_but_type_definitions() {
    let engine = Engine::default();
    let component = Component::new(&engine, EMBEDDED_MACHINE_COMPONENT).unwrap();
    let ty = component.component_type();
    for (name, item) in ty.imports(&engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        // The WIT's `types` interface arrives as an import of its type definitions alone:
        // nothing a host has to implement.
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            panic!("import beyond WASI: {name}");
        };
        assert_eq!(name, "mcp:tasks/types@0.9.0");
        for (member, item) in instance.exports(&engine) {
            assert!(
                matches!(item.ty, ComponentItem::Type(_)),
                "{name} imports {member}, which is not a type"
            );
        }
    }
    let exports: Vec<String> = ty
        .exports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(exports, ["mcp:tasks/machine@0.9.0"]);
}

#[test]
fn with_wasi_alone_it_answers_like_the_spec() {
    // `Machine` links WASI and nothing else.
    let mut machine = Machine::new(&ComponentSource::embedded_machine()).unwrap();
    let allowed = [
        (Status::Working, Status::InputRequired),
        (Status::Working, Status::Completed),
        (Status::Working, Status::Failed),
        (Status::Working, Status::Cancelled),
        (Status::InputRequired, Status::Working),
        (Status::InputRequired, Status::Completed),
        (Status::InputRequired, Status::Failed),
        (Status::InputRequired, Status::Cancelled),
    ];
    for from in STATUSES {
        for to in STATUSES {
            assert_eq!(
                machine.can_transition(from, to).unwrap(),
                allowed.contains(&(from, to)),
                "{from:?} -> {to:?}"
            );
        }
        let terminal = matches!(from, Status::Completed | Status::Failed | Status::Cancelled);
        assert_eq!(machine.is_terminal(from).unwrap(), terminal, "{from:?}");
    }

    let task = Task {
        ttl: Some(60_000),
        version: 3,
        ..fixtures::task("t1", "alice", 1_000)
    };
    let done = machine
        .transition(&task, Status::Completed, Some("done"), 2_000)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            done.status,
            done.status_message.as_deref(),
            done.last_updated_at,
            done.version
        ),
        (Status::Completed, Some("done"), 2_000, 4)
    );
    assert_eq!(
        machine
            .transition(&done, Status::Working, None, 3_000)
            .unwrap(),
        Err(TransitionError::Terminal(Status::Completed))
    );
    assert_eq!(
        machine
            .transition(&task, Status::Working, None, 3_000)
            .unwrap(),
        Err(TransitionError::NotAllowed((
            Status::Working,
            Status::Working
        )))
    );
}

#[test]
fn the_tasks_component_needs_a_store_and_does_not_load_as_a_machine() {
    let Err(GuestError::Load(why)) = Machine::new(&ComponentSource::embedded()) else {
        panic!("the tasks component loaded with WASI alone");
    };
    assert!(why.contains("mcp:tasks/store"), "{why}");
}
