//! The batch reader and row rules on arbitrary bytes: any file, any encoding,
//! both gateways. Errors are fine; a panic is a bug.
#![no_main]

use std::collections::BTreeMap;
use std::io::Write;

use bulkrefund::batch::{CheckedBatch, ReadOptions};
use bulkrefund::gateway::GatewayKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(data).expect("written");
    let defaults: BTreeMap<String, String> = [("appid", "app01"), ("refund_expire", "30")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for gateway in [GatewayKind::Leshua, GatewayKind::Lianshang] {
        for encoding in [None, Some("gbk".to_owned())] {
            let options = ReadOptions {
                encoding,
                delimiter: b',',
            };
            if let Ok(rows) = CheckedBatch::open(file.path(), &options, gateway, &defaults) {
                for row in rows.take(10_000) {
                    let _ = row;
                }
            }
        }
    }
});
