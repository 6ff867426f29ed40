//! What ordu keeps of the keys it does not model: [`Extra`], a map of
//! [`RawJson`] values written back unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Keys a client sent that ordu does not model. They are kept and written back
/// unchanged, so a job from a newer client round-trips.
pub type Extra = BTreeMap<String, RawJson>;

/// One value ordu does not model, held as compact JSON text rather than as a
/// `Value` tree, whose nodes cost many times the text they came from.
///
/// Why re-serialise instead of capturing the input slice: `#[serde(flatten)]`
/// buffers the struct's keys through serde's private `Content`, where
/// `RawValue` cannot borrow the original text. Decoding visits the buffered
/// value once as a `Value` and writes it out compactly; that copy is transient
/// (the flatten buffer is already as large), and what stays resident is text.
/// Compact re-serialisation also makes the text canonical (no whitespace,
/// object keys sorted as `Value` sorts them), so comparing the text is the same
/// semantic comparison `Value`'s equality made: a job re-registered with other
/// spacing is still the same spec.
#[derive(Debug, Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The compact JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The value parsed back into a tree, for callers that inspect it.
    pub fn value(&self) -> Value {
        // The text was written by serde_json from a `Value`, so it parses.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<&Value> for RawJson {
    fn from(v: &Value) -> Self {
        // Serialising a `Value` cannot fail: its keys are strings and its
        // numbers are finite.
        let text = serde_json::to_string(v).unwrap_or_else(|_| "null".to_string());
        RawJson(RawValue::from_string(text).unwrap_or_else(|_| null_raw()))
    }
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).expect("null is JSON")
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawJson::from(&Value::deserialize(d)?))
    }
}
