//! Where each setting stands in the configuration file, found with toml_edit's
//! document (which keeps every key's and value's place), so that an error about
//! a setting can name its line however deep it sits (`defaults.appid`).

use std::ops::Range;

use toml_edit::{ImDocument, Item};

/// Where a key and its value stand, when the parser kept it.
type KeyAndValue = (Option<Range<usize>>, Option<Range<usize>>);

pub struct Places {
    document: Option<ImDocument<String>>,
}

impl Places {
    pub fn parse(text: &str) -> Places {
        Places {
            document: ImDocument::parse(text.to_owned()).ok(),
        }
    }

    /// The key and the value at `path` (`["profiles", "ls", "rate"]`).
    fn spans(&self, path: &[&str]) -> Option<KeyAndValue> {
        let (last, parents) = path.split_last()?;
        let mut item: &Item = self.document.as_ref()?.as_item();
        for name in parents {
            item = item.as_table_like()?.get(name)?;
        }
        let (key, value) = item.as_table_like()?.get_key_value(last)?;
        Some((key.span(), value.span()))
    }

    /// Where the key at `path` starts.
    pub fn key(&self, path: &[&str]) -> Option<usize> {
        let (key, value) = self.spans(path)?;
        key.or(value).map(|span| span.start)
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &[&str]) -> Option<usize> {
        let (key, value) = self.spans(path)?;
        value.or(key).map(|span| span.start)
    }
}
