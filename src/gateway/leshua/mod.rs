//! Leshua (docs/specs/leshua.md): MD5-signed form posts to one CGI endpoint,
//! `<leshua>` XML answers. Everything bulkrefund knows of Leshua lives in this
//! folder: the wire format and signing ([`wire`]), what an answer proves
//! ([`classify`]), the client ([`client`]), the batch columns and row rules
//! ([`rows`]) and the profile section ([`profile`]). The simulator's side is
//! `sim/leshua.rs`.

pub mod bill;
pub mod classify;
pub mod client;
pub mod profile;
pub mod rows;
pub mod wire;

use std::collections::BTreeMap;

pub use classify::{classify, Asked, Call, ALREADY_EXISTS};
pub use client::{LeshuaClient, LeshuaSettings};
pub use rows::is_valid_refund_id;
pub use wire::{
    notification_verifies, parse_xml, response_verifies, sign_notification, sign_request,
    sign_response, write_xml, XmlError, PATH, SERVICE_QUERY, SERVICE_REFUND,
};

use super::{GatewayKind, GatewaySpec};

/// Leshua as the rest of bulkrefund sees it.
pub struct Leshua;

impl GatewaySpec for Leshua {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Leshua
    }

    fn read_bill(
        &self,
        bytes: &[u8],
        date: jiff::civil::Date,
        caps: super::bill::Caps,
    ) -> Result<super::bill::Bill, super::bill::BillError> {
        bill::read(bytes, date, caps)
    }

    fn accepts_refund_id(&self, id: &str) -> bool {
        is_valid_refund_id(id)
    }

    fn order_ids<'a>(&self, fields: &'a BTreeMap<String, String>) -> (&'a str, &'a str) {
        rows::order_ids(fields)
    }

    /// A Leshua refund goes back through the payer's bank or wallet, which
    /// may take minutes: asked soon at first, then no more than once a minute.
    fn poll_schedule(&self) -> &'static [std::time::Duration] {
        use std::time::Duration;
        const SCHEDULE: [Duration; 5] = [
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(30),
            Duration::from_secs(60),
        ];
        &SCHEDULE
    }
}
