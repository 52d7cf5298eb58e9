//! Property tests of the router: any sequence of messages from two owners in both eras, of tools
//! reporting, asking, finishing and being swept while time passes, and of malformed messages,
//! keeps the state machine's invariants (the test store checks each write: see `check_update`)
//! and never shows one owner a task of the other's. `cargo test -p mcp-tasks-guest properties`;
//! `PROPTEST_CASES=100000` runs a long search.

use proptest::prelude::*;
use serde_json::Value;

use crate::router::testing::sequence::*;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        "[a-z0-9_/-]{0,12}".prop_map(Value::from),
    ];
    let keys = prop::sample::select(KEYS.to_vec());
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn op() -> impl Strategy<Value = Op> {
    let owner = 0..OWNERS.len();
    prop_oneof![
        4 => (owner.clone(), 0..TOOLS.len(), any::<bool>(), prop::option::of(0u32..200_000))
            .prop_map(|(owner, tool, modern, ttl)| Op::Call { owner, tool, modern, ttl }),
        3 => (owner.clone(), any::<usize>(), any::<bool>())
            .prop_map(|(owner, task, modern)| Op::Get { owner, task, modern }),
        2 => (owner.clone(), any::<usize>(), any::<bool>())
            .prop_map(|(owner, task, modern)| Op::Cancel { owner, task, modern }),
        1 => (owner.clone(), prop::option::of(any::<usize>()))
            .prop_map(|(owner, cursor)| Op::List { owner, cursor }),
        1 => (owner.clone(), any::<usize>()).prop_map(|(owner, task)| Op::Result { owner, task }),
        2 => (owner.clone(), any::<usize>(), 1u8..4)
            .prop_map(|(owner, task, key)| Op::Update { owner, task, key }),
        2 => (owner.clone(), any::<usize>(), any::<bool>())
            .prop_map(|(owner, request, accept)| Op::Reply { owner, request, accept }),
        4 => (any::<usize>(), 0u8..4).prop_map(|(run, outcome)| Op::Finish { run, outcome }),
        1 => any::<usize>().prop_map(|run| Op::Report { run }),
        2 => any::<usize>().prop_map(|run| Op::Ask { run }),
        2 => (0u32..120_000).prop_map(|ms| Op::Advance { ms }),
        2 => (owner.clone(), any::<bool>()).prop_map(|(owner, alive)| Op::Sweep { owner, alive }),
        1 => any::<bool>().prop_map(Op::Push),
        2 => (owner, 0..METHODS.len(), json_value())
            .prop_map(|(owner, method, params)| Op::Raw { owner, method, params }),
        1 => ".{0,40}".prop_map(Op::Junk),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_keeps_the_invariants(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}
