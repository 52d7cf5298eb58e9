//! The Rust side of the WIT package (`wit/tasks.wit`, world `tasks`), as wasmtime generates it:
//! the data types every part of the host shares (re-exported as [`crate::types`]), and the glue
//! of the component's imports and exports.

wasmtime::component::bindgen!({
    world: "tasks",
    path: "wit",
    imports: { default: async },
    additional_derives: [PartialEq],
    exports: { default: async },
});
