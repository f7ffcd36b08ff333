//! Typed access to a `serde_json::Value` tree with error messages that name the full field path.

use serde_json::{Map, Value};

use crate::error::ConfigError;

/// A JSON object and the dotted path that leads to it.
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub fn root(value: &'a Value) -> Result<Self, ConfigError> {
        match value {
            Value::Object(map) => Ok(Obj {
                path: String::new(),
                map,
            }),
            _ => Err(ConfigError::Invalid {
                field: "(root)".into(),
                reason: "expected a JSON object".into(),
            }),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn invalid(&self, key: &str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            field: self.field(key),
            reason: reason.to_string(),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                path: self.field(key),
                map,
            })),
            Some(_) => Err(self.invalid(key, "expected an object")),
        }
    }

    pub fn obj(&self, key: &str) -> Result<Obj<'a>, ConfigError> {
        self.opt_obj(key)?
            .ok_or_else(|| ConfigError::Missing(self.field(key)))
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.invalid(key, "expected a string")),
        }
    }

    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= (1 << 40) => Ok(Some(n as usize)),
                _ => Err(self.invalid(key, "expected a non-negative integer")),
            },
        }
    }

    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.invalid(key, "expected an integer")),
        }
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(self.invalid(key, "expected a finite number")),
            },
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "expected true or false")),
        }
    }

    pub fn opt_usize_list(&self, key: &str) -> Result<Option<Vec<usize>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v.as_u64() {
                    Some(n) if n <= (1 << 20) => Ok(n as usize),
                    _ => Err(self.invalid(key, "expected a list of non-negative integers")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.invalid(key, "expected a list")),
        }
    }

    /// An integer given as a single value or as a pair of equal values (`[16, 16]`).
    pub fn opt_square(&self, key: &str) -> Result<Option<usize>, ConfigError> {
        match self.get(key) {
            Some(Value::Array(_)) => match self.opt_usize_list(key)?.as_deref() {
                Some([a, b]) if a == b => Ok(Some(*a)),
                _ => Err(self.invalid(key, "only square sizes are supported")),
            },
            _ => self.opt_usize(key),
        }
    }

    pub fn usize(&self, key: &str) -> Result<usize, ConfigError> {
        self.opt_usize(key)?
            .ok_or_else(|| ConfigError::Missing(self.field(key)))
    }

    /// Reject a setting the implementation does not support, naming it.
    pub fn unsupported(&self, key: &str, value: impl ToString, reason: &str) -> ConfigError {
        ConfigError::Unsupported {
            field: self.field(key),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}
