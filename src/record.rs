//! External record ids.

use std::fmt;

/// A record's external id: the user's key (a primary key, or a path relative
/// to an images folder). Arbitrary bytes; shown as UTF-8, lossily.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(Vec<u8>);

impl RecordId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id as text (invalid UTF-8 replaced).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl From<Vec<u8>> for RecordId {
    fn from(v: Vec<u8>) -> Self {
        RecordId(v)
    }
}
impl From<&[u8]> for RecordId {
    fn from(v: &[u8]) -> Self {
        RecordId(v.to_vec())
    }
}
impl From<String> for RecordId {
    fn from(v: String) -> Self {
        RecordId(v.into_bytes())
    }
}
impl From<&str> for RecordId {
    fn from(v: &str) -> Self {
        RecordId(v.as_bytes().to_vec())
    }
}
