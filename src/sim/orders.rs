//! The simulator's orders file (docs/specs/cli.md, "The simulator's orders
//! file"): the paid orders it knows, read once at start. A row that does not
//! parse stops the simulator, so that a typo never turns into a silent
//! "order not found" in a test.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::gateway::GatewayKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Paid,
    Closed,
    Failed,
}

/// One line of the orders file (docs/specs/cli.md, "The simulator's orders file").
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderRow {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub third_order_id: String,
    pub gateway_order_id: String,
    #[serde(default)]
    pub appid: String,
    pub amount_fen: u64,
    pub currency: String,
    pub status: OrderStatus,
    /// When the order was paid (RFC 3339); the simulator takes one day before
    /// it started when the column is absent or empty. WeChat Pay refuses
    /// refunds of orders paid over 365 days ago.
    #[serde(default, with = "optional_time")]
    pub paid_at: Option<jiff::Timestamp>,
}

/// Why the orders file could not be read; the simulator refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("cannot read the orders file {}", path.display())]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{}: line {line} is not an order", path.display())]
    Row {
        path: std::path::PathBuf,
        line: u64,
        #[source]
        source: csv::Error,
    },
}

pub fn read_orders(path: &Path) -> Result<Vec<OrderRow>, OrdersError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|source| OrdersError::Open {
            path: path.to_owned(),
            source,
        })?;
    let mut orders = Vec::new();
    for (i, row) in reader.deserialize().enumerate() {
        let row: OrderRow = row.map_err(|source| OrdersError::Row {
            path: path.to_owned(),
            line: i as u64 + 2,
            source,
        })?;
        orders.push(row);
    }
    Ok(orders)
}

/// `paid_at` as RFC 3339 text; an empty cell is no time. jiff's own serde
/// support is not enabled in this build, and the text form is the file's.
mod optional_time {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        time: &Option<jiff::Timestamp>,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => out.serialize_str(&time.to_string()),
            None => out.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        input: D,
    ) -> Result<Option<jiff::Timestamp>, D::Error> {
        let text = Option::<String>::deserialize(input)?.unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(None);
        }
        text.trim()
            .parse::<jiff::Timestamp>()
            .map(Some)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "paid_at {text:?} is not an RFC 3339 time with an offset: {e}"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paid_at_is_optional_and_must_be_rfc_3339() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.csv");
        let header =
            "gateway,merchant_id,third_order_id,gateway_order_id,appid,amount_fen,currency,status";
        std::fs::write(&path, format!("{header}\nleshua,M,T1,L1,,100,CNY,paid\n")).unwrap();
        assert_eq!(read_orders(&path).unwrap()[0].paid_at, None);
        std::fs::write(
            &path,
            format!("{header},paid_at\nleshua,M,T1,L1,,100,CNY,paid,2026-11-01T10:00:00+08:00\nleshua,M,T2,L2,,100,CNY,paid,\n"),
        )
        .unwrap();
        let orders = read_orders(&path).unwrap();
        assert_eq!(
            orders[0].paid_at,
            Some("2026-11-01T02:00:00Z".parse().unwrap())
        );
        assert_eq!(orders[1].paid_at, None);
        std::fs::write(
            &path,
            format!("{header},paid_at\nleshua,M,T1,L1,,100,CNY,paid,yesterday\n"),
        )
        .unwrap();
        assert!(matches!(
            read_orders(&path),
            Err(OrdersError::Row { line: 2, .. })
        ));
    }
}
