//! The values of the flags that name one of bulkrefund's own kinds.

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::gateway::GatewayKind;
use crate::report::export::ExportFormat;

/// `--gateway leshua|lianshang`: every gateway bulkrefund knows, by its name.
impl ValueEnum for GatewayKind {
    fn value_variants<'a>() -> &'a [Self] {
        GatewayKind::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// `--format csv|xlsx`.
impl ValueEnum for ExportFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[ExportFormat::Csv, ExportFormat::Xlsx]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }))
    }
}
