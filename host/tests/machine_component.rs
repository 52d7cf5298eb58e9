//! The state-machine component stands alone: it imports no store, no server and no router,
//! only what any WASI host gives, and its rules are the spec's.

use mcp_tasks::EMBEDDED_MACHINE_COMPONENT;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Wasi {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

const STATUSES: [&str; 5] = [
    "working",
    "input-required",
    "completed",
    "failed",
    "cancelled",
];

#[test]
fn it_imports_nothing_of_ours_and_answers_like_the_spec() {
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
        assert_eq!(name, "mcp:tasks/types@0.1.0");
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
    assert_eq!(exports, ["mcp:tasks/machine@0.1.0"]);

    // A linker with WASI only: no store, no server.
    let mut linker = Linker::<Wasi>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let mut store = Store::new(
        &engine,
        Wasi {
            ctx: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let machine = instance
        .get_export_index(&mut store, None, "mcp:tasks/machine@0.1.0")
        .unwrap();
    let can_transition = instance
        .get_export_index(&mut store, Some(&machine), "can-transition")
        .and_then(|i| instance.get_func(&mut store, i))
        .unwrap();
    let is_terminal = instance
        .get_export_index(&mut store, Some(&machine), "is-terminal")
        .and_then(|i| instance.get_func(&mut store, i))
        .unwrap();

    let allowed = [
        ("working", "input-required"),
        ("working", "completed"),
        ("working", "failed"),
        ("working", "cancelled"),
        ("input-required", "working"),
        ("input-required", "completed"),
        ("input-required", "failed"),
        ("input-required", "cancelled"),
    ];
    for from in STATUSES {
        for to in STATUSES {
            let mut result = [Val::Bool(false)];
            can_transition
                .call(
                    &mut store,
                    &[Val::Enum(from.into()), Val::Enum(to.into())],
                    &mut result,
                )
                .unwrap();
            let expect = allowed.contains(&(from, to));
            assert_eq!(result[0], Val::Bool(expect), "{from} -> {to}");
        }
        let mut result = [Val::Bool(false)];
        is_terminal
            .call(&mut store, &[Val::Enum(from.into())], &mut result)
            .unwrap();
        let terminal = matches!(from, "completed" | "failed" | "cancelled");
        assert_eq!(result[0], Val::Bool(terminal), "is-terminal {from}");
    }
}
