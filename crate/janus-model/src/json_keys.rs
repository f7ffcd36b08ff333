//! Duplicate keys in the JSON we read from others (safetensors headers, shard indexes, pack
//! manifests, configs). JSON leaves them undefined and serde_json keeps the last one silently, so
//! two readers of one file can disagree: one loads a tensor's first entry, another its second.
//! Every such file is checked here first and refused when any object, at any depth, names a key
//! twice.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// The first key some object in `text` has twice (`"outer.inner"` for a nested one), or `None`,
/// also when `text` is not JSON at all (the caller's parse then says what is wrong).
pub fn duplicate_key(text: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    match Checked::deserialize(&mut de) {
        Err(e) if e.to_string().starts_with(DUPLICATE) => {
            let message = e.to_string();
            let key = message[DUPLICATE.len()..]
                .split(" at line")
                .next()
                .unwrap_or_default();
            Some(key.to_string())
        }
        _ => None,
    }
}

/// The error text that marks a duplicate (followed by the key path).
const DUPLICATE: &str = "duplicate key: ";

/// Any JSON value, walked for its objects' keys and otherwise ignored.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Walk)
    }
}

struct Walk;

impl<'de> Visitor<'de> for Walk {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(A::Error::custom(format!("{DUPLICATE}{key}")));
            }
            // A nested duplicate comes back with its key's path before it.
            map.next_value::<Checked>().map_err(|e| {
                let text = e.to_string();
                match text.strip_prefix(DUPLICATE) {
                    Some(inner) => A::Error::custom(format!("{DUPLICATE}{key}.{inner}")),
                    None => e,
                }
            })?;
            keys.push(key);
        }
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::duplicate_key;

    #[test]
    fn finds_a_key_given_twice_at_any_depth() {
        assert_eq!(duplicate_key(br#"{"a":1,"b":[{"c":2}],"d":{"e":3}}"#), None);
        assert_eq!(duplicate_key(br#"{"a":1,"a":2}"#).as_deref(), Some("a"));
        assert_eq!(
            duplicate_key(br#"{"w":{"x":"1","x":"2"}}"#).as_deref(),
            Some("w.x")
        );
        assert_eq!(
            duplicate_key(br#"[{"k":{"y":{"z":1,"z":1}}}]"#).as_deref(),
            Some("k.y.z")
        );
        // Not JSON, or no object: nothing to say here.
        assert_eq!(duplicate_key(b"{not json"), None);
        assert_eq!(duplicate_key(b"[1, 2]"), None);
    }
}
