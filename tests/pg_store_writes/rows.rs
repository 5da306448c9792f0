//! The batches tests/pg_store_writes.rs imports into both journals: rows
//! written as specs, so that each journal gets its own, equal rows.

use std::collections::BTreeMap;

use bulkrefund::batch::{CheckedRow, FileError, RefundRow};
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::import::BatchMeta;
use bulkrefund::money::Fen;

/// One input row: valid (line, refund id, order, fen) or invalid (line).
pub enum Spec {
    V(u64, String, String, u64),
    I(u64),
}

impl Spec {
    pub fn row(self) -> Result<CheckedRow, FileError> {
        Ok(match self {
            Spec::V(line, id, order, fen) => {
                let mut fields = BTreeMap::new();
                fields.insert("third_order_id".to_owned(), order.clone());
                CheckedRow::Valid {
                    line,
                    cells: vec![id.clone(), order.clone(), fen.to_string()],
                    refund: RefundRow {
                        refund_id: id,
                        amount: Fen(fen),
                        fields,
                        fingerprint: format!("{order}||{fen}"),
                        order_key: order,
                    },
                }
            }
            Spec::I(line) => CheckedRow::Invalid {
                line,
                cells: vec!["R_x".into(), "".into()],
                fen: None,
                message: format!("line {line}, merchant_refund_id: bad"),
            },
        })
    }
}

fn v(line: u64, id: &str, order: &str, fen: u64) -> Spec {
    Spec::V(line, id.to_owned(), order.to_owned(), fen)
}

/// The amount of the row of line `i` in batch A.
pub fn fen(i: u64) -> u64 {
    100 + i % 997
}

/// A batch of the Leshua merchant M1 from `file`.
pub fn meta(file: &str, hash: &str) -> BatchMeta {
    BatchMeta {
        file_name: file.into(),
        file_hash: hash.into(),
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: "M1".into(),
        header: vec![
            "merchant_refund_id".into(),
            "third_order_id".into(),
            "refund_amount".into(),
        ],
        input_path: Some(format!("/data/{file}")),
        results_path: None,
        results_bom: false,
    }
}

/// The row of line `i` of a plain batch: `A000123`, order `O123`.
pub fn plain(i: u64) -> Spec {
    Spec::V(i, format!("A{i:06}"), format!("O{i}"), fen(i))
}

/// 12,000 lines (three of the PostgreSQL import's chunks): a repeat and a
/// conflict within the first chunk and across chunks, two invalid rows.
pub fn batch_a() -> Vec<Spec> {
    (2..=12_001)
        .map(|i| match i {
            100 | 7_000 => Spec::I(i),
            50 => v(50, "A000010", "O10", fen(10)),
            51 => v(51, "A000011", "X11", fen(11)),
            6_000 => v(6_000, "A000002", "O2", fen(2)),
            6_001 => v(6_001, "A000003", "X3", fen(3)),
            i => plain(i),
        })
        .collect()
}

/// Ids of A (the same refund, and a changed one), and its own repeats.
pub fn batch_b() -> Vec<Spec> {
    vec![
        v(2, "A000002", "O2", fen(2)),
        v(3, "A000003", "X3", fen(3)),
        v(4, "A000002", "O2", fen(2)),
        v(5, "A000004", "O4", fen(4)),
        v(6, "B1", "OB1", 500),
        v(7, "B1", "OB1", 500),
        v(8, "B1", "OBX", 500),
        Spec::I(9),
    ]
}

/// A retried refund and its retry's new id (one chain), a refund retried
/// under its own id, and a new one.
pub fn batch_c() -> Vec<Spec> {
    vec![
        v(2, "A000002", "O2", fen(2)),
        v(3, "A000002R2", "O2", fen(2)),
        v(4, "A000005", "O5", fen(5)),
        v(5, "C1", "OC1", 700),
    ]
}

/// Two large refunds (the batch held for approval).
pub fn batch_d() -> Vec<Spec> {
    vec![v(2, "D1", "OD1", 100_000), v(3, "D2", "OD2", 100_000)]
}
