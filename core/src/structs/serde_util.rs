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

/// Implements `Deserialize` for a struct that keeps the keys it does not model
/// in a `serde_json::Map` field, without `#[serde(flatten)]`.
///
/// With a flattened field, serde's derived decoder buffers every key the
/// struct does not know, and its value, into serde's private `Content` tree,
/// then decodes the map from that tree a second time. This decoder reads the
/// input once: a known key is decoded into its field as it comes, an unknown
/// key and its value go into the map as they are. (Known keys were decoded in
/// place already, so for a job without unknown keys the gain is small.)
///
/// Each field lists its JSON key, the function that decodes it (a
/// `fn(D) -> Result<T, D::Error>` such as [`null_default`]; `T::deserialize`
/// when none is given) and the value it takes when the key is absent
/// (`Default::default()` when none is given; for a required key, an early
/// `return Err(serde::de::Error::missing_field("Key"))`):
///
/// ```ignore
/// deserialize_with_extra! {
///     Job as "struct Job", extra {
///         id: String = "ID" (null_default),
///         priority: i64 = "Priority" (priority) or default_priority(),
///         meta: Option<BTreeMap<String, String>> = "Meta",
///     }
/// }
/// ```
///
/// It behaves as the derived decoder did with `#[serde(default)]` or
/// `#[serde(default = ..., deserialize_with = ...)]` on each field and the map
/// flattened: only a JSON object is accepted (the invalid type error expects
/// the string given after `as`), a known key sent twice is a `duplicate field`
/// error, an unknown key sent twice keeps its last value. Errors inside a
/// field carry the key, so `serde_path_to_error` reports the field's path.
/// The struct literal it builds names every field, so a field missing from
/// the list does not compile.
macro_rules! deserialize_with_extra {
    (
        $ty:ident as $expecting:literal, $extra:ident {
            $(
                $field:ident : $fty:ty = $key:literal $(($with:path))? $(or $default:expr)?
            ),* $(,)?
        }
    ) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // One variant per known key; an unknown key is kept as it came.
                #[allow(non_camel_case_types)]
                enum Key {
                    $( $field, )*
                    Other(String),
                }
                fn known(key: &str) -> Option<Key> {
                    match key {
                        $( $key => Some(Key::$field), )*
                        _ => None,
                    }
                }
                struct KeyVisitor;
                impl ::serde::de::Visitor<'_> for KeyVisitor {
                    type Value = Key;
                    fn expecting(
                        &self,
                        f: &mut ::std::fmt::Formatter<'_>,
                    ) -> ::std::fmt::Result {
                        f.write_str("field identifier")
                    }
                    // A key borrowed from the input or from a scratch buffer:
                    // a known one allocates nothing.
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<Key, E> {
                        Ok(known(v).unwrap_or_else(|| Key::Other(v.to_owned())))
                    }
                    fn visit_string<E: ::serde::de::Error>(self, v: String) -> Result<Key, E> {
                        Ok(known(&v).unwrap_or(Key::Other(v)))
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for Key {
                    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
                        d.deserialize_identifier(KeyVisitor)
                    }
                }

                struct MapVisitor;
                impl<'de> ::serde::de::Visitor<'de> for MapVisitor {
                    type Value = $ty;
                    fn expecting(
                        &self,
                        f: &mut ::std::fmt::Formatter<'_>,
                    ) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        // The values seen so far, in a struct rather than in
                        // locals so that a field may share its name with the
                        // function that decodes it.
                        struct Seen {
                            $( $field: Option<$fty>, )*
                        }
                        let mut seen = Seen {
                            $( $field: None, )*
                        };
                        let mut extra = ::serde_json::Map::new();
                        while let Some(key) = map.next_key::<Key>()? {
                            match key {
                                $( Key::$field => {
                                    if seen.$field.is_some() {
                                        return Err(
                                            <A::Error as ::serde::de::Error>::duplicate_field($key),
                                        );
                                    }
                                    // The field's own decoder, as a type serde can call.
                                    struct Field($fty);
                                    impl<'de> ::serde::Deserialize<'de> for Field {
                                        fn deserialize<D: ::serde::Deserializer<'de>>(
                                            d: D,
                                        ) -> Result<Field, D::Error> {
                                            $crate::structs::serde_util::deserialize_with_extra!(
                                                @with d $($with)?
                                            )
                                            .map(Field)
                                        }
                                    }
                                    seen.$field = Some(map.next_value::<Field>()?.0);
                                } )*
                                Key::Other(k) => {
                                    let v: ::serde_json::Value = map.next_value()?;
                                    extra.insert(k, v);
                                }
                            }
                        }
                        Ok($ty {
                            $( $field: match seen.$field {
                                Some(v) => v,
                                None => $crate::structs::serde_util::deserialize_with_extra!(
                                    @default $($default)?
                                ),
                            }, )*
                            $extra: extra,
                        })
                    }
                }
                d.deserialize_map(MapVisitor)
            }
        }
    };
    (@with $d:ident) => { ::serde::Deserialize::deserialize($d) };
    (@with $d:ident $with:path) => { $with($d) };
    (@default) => { Default::default() };
    (@default $default:expr) => { $default };
}
pub(crate) use deserialize_with_extra;
