//! Native tests of the router against a small in-memory store.

mod admin;
mod batch;
mod legacy;
mod logging;
mod modern;
mod progress;
mod properties;
mod queues;
mod retries;
mod shutdown;
mod workflows;

use std::cell::RefCell;

use serde_json::{Value, json};

use super::testing::*;
use super::*;
use crate::model::Wait;
// The sections' helpers, for each other.
use {legacy::*, progress::*, retries::*};
