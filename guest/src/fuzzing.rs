//! Entry points for coverage-guided fuzzing (the feature `fuzzing`; the targets that call them
//! are in `fuzz/`, run with `cargo fuzz` on stable Rust, see docs/reliability.md).
//! Each panics at the first broken invariant, which the fuzzer reports as a crash.

use arbitrary::{Result, Unstructured};
use serde_json::Value;

use crate::router::testing::sequence::{self, KEYS, METHODS, OWNERS, Op, TOOLS};

/// The most steps one input makes: enough for a task to be created, asked, answered, retried
/// and swept, few enough that an input runs in well under a millisecond.
const MAX_STEPS: usize = 200;

/// Decode a sequence of steps from `data` (calls of every kind of tool from two owners in both
/// eras, polls, cancels, answers, tools reporting, asking and finishing, time passing, sweeps,
/// any method with any params, and lines of any text) and run it against the router over an
/// in-memory store that checks every write: versions grow, statuses move only as the state
/// machine allows, terminal tasks never change, no owner is shown another's task, and the last
/// sweep leaves nothing expired or stuck.
pub fn router_sequence(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_STEPS {
        match op(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    sequence::run(&ops);
}

fn op(u: &mut Unstructured) -> Result<Op> {
    let owner = u.choose_index(OWNERS.len())?;
    Ok(match u.int_in_range(0u8..=14)? {
        0 => Op::Call {
            owner,
            tool: u.choose_index(TOOLS.len())?,
            modern: u.arbitrary()?,
            ttl: u.arbitrary::<Option<u32>>()?.map(|ttl| ttl % 200_000),
        },
        1 => Op::Get {
            owner,
            task: u.arbitrary()?,
            modern: u.arbitrary()?,
        },
        2 => Op::Cancel {
            owner,
            task: u.arbitrary()?,
            modern: u.arbitrary()?,
        },
        3 => Op::List {
            owner,
            cursor: u.arbitrary()?,
        },
        4 => Op::Result {
            owner,
            task: u.arbitrary()?,
        },
        5 => Op::Update {
            owner,
            task: u.arbitrary()?,
            key: u.int_in_range(1..=3)?,
        },
        6 => Op::Reply {
            owner,
            request: u.arbitrary()?,
            accept: u.arbitrary()?,
        },
        7 => Op::Finish {
            run: u.arbitrary()?,
            outcome: u.int_in_range(0..=3)?,
        },
        8 => Op::Report {
            run: u.arbitrary()?,
        },
        9 => Op::Ask {
            run: u.arbitrary()?,
        },
        10 => Op::Advance {
            ms: u.int_in_range(0..=120_000)?,
        },
        11 => Op::Sweep {
            owner,
            alive: u.arbitrary()?,
        },
        12 => Op::Push(u.arbitrary()?),
        13 => Op::Raw {
            owner,
            method: u.choose_index(METHODS.len())?,
            params: json(u, 0)?,
        },
        _ => Op::Junk(u.arbitrary::<&str>()?.to_string()),
    })
}

/// A JSON value of any shape, its object keys mostly those the methods read.
fn json(u: &mut Unstructured, depth: u32) -> Result<Value> {
    let kind = if depth >= 4 { 0..=4 } else { 0..=6 };
    Ok(match u.int_in_range(kind)? {
        0 => Value::Null,
        1 => Value::from(u.arbitrary::<bool>()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::from),
        4 => Value::from(u.arbitrary::<&str>()?),
        5 => {
            let len = u.int_in_range(0..=4)?;
            Value::Array(
                (0..len)
                    .map(|_| json(u, depth + 1))
                    .collect::<Result<_>>()?,
            )
        }
        _ => {
            let len = u.int_in_range(0..=5)?;
            let mut object = serde_json::Map::new();
            for _ in 0..len {
                let key = match u.ratio(1, 8)? {
                    true => u.arbitrary::<&str>()?.to_string(),
                    false => KEYS[u.choose_index(KEYS.len())?].to_string(),
                };
                object.insert(key, json(u, depth + 1)?);
            }
            Value::Object(object)
        }
    })
}
