//! Small serde helpers shared by the model.

use serde::{Deserialize, Deserializer};

/// Decodes `null` as the type's default, as Go's decoder does for slices and maps.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
