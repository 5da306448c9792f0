//! The Leshua answer path on arbitrary bytes: XML parsing, then verification
//! and classification of whatever fields came out. A panic is a bug; so is an
//! unsigned answer classified as anything but unknown or a protocol rejection.
#![no_main]

use bulkrefund::gateway::leshua::{classify, parse_xml, Call};
use bulkrefund::gateway::Outcome;
use bulkrefund::secret::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Secret::new("TESTKEY");
    if let Ok(fields) = parse_xml(data) {
        for call in [Call::Refund, Call::Query] {
            let outcome = classify(call, &fields, &key);
            let trusted = matches!(
                outcome,
                Outcome::Succeeded(_) | Outcome::Processing(_) | Outcome::NotFound
            );
            if trusted {
                // Random bytes cannot carry a valid MD5 signature by chance.
                assert!(bulkrefund::gateway::leshua::response_verifies(
                    &fields, &key
                ));
            }
        }
    }
});
