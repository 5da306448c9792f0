//! The values of the flags that name one of bulkrefund's own kinds, and the
//! probabilities of the simulator's fault flags.

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

/// A share from 0 to 1 (the simulator's `--*-rate` flags).
pub fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{text:?} is not a probability from 0 to 1 (e.g. 0.05)"
        )),
    }
}
