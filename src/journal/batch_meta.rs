//! What the journal records of a batch besides its rows: the file, its
//! profile and merchant, where its results go. The import and the import's
//! trace both read it.

use crate::gateway::GatewayKind;

#[derive(Clone, Debug)]
pub struct BatchMeta {
    pub file_name: String,
    pub file_hash: String,
    pub profile: String,
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub header: Vec<String>,
    /// The input file's canonical path, when known: output paths are compared with it.
    pub input_path: Option<String>,
    /// Where the batch's results file goes.
    pub results_path: Option<String>,
    /// The results file starts with a BOM.
    pub results_bom: bool,
}

impl BatchMeta {
    pub(super) fn id_space(&self) -> String {
        super::id_space(self.gateway, &self.merchant_id)
    }
}
