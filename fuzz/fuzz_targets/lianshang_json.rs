//! The Lianshang answer path on arbitrary bytes: gzip, JSON, then classification.
#![no_main]

use bulkrefund::gateway::lianshang::{classify, gunzip, parse_answer, Call};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for bytes in [Some(data.to_vec()), gunzip(data).ok()]
        .into_iter()
        .flatten()
    {
        for call in [Call::Refund, Call::Query] {
            if let Ok(biz) = parse_answer(call, &bytes) {
                let _ = classify(call, &biz);
            }
        }
    }
});
