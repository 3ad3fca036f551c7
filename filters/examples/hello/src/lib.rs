//! The smallest filter: it adds `greeting` to every event.

use wasmstash_sdk::prelude::*;

fn hello(event: &mut Event) -> Verdict {
    event.set("greeting", "hello");
    Verdict::Keep
}

export_filter!(fn hello);
