//! Writing images and reading code files.

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde_json::Value;

/// `out` for one image; `stem-i.ext` for several.
pub fn image_paths(out: &Path, count: usize) -> Vec<PathBuf> {
    if count == 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "janus".into());
    let ext = out
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "png".into());
    (0..count)
        .map(|i| out.with_file_name(format!("{stem}-{i}.{ext}")))
        .collect()
}

pub fn write_pngs(images: &[RgbImage], out: &Path) -> Result<Vec<PathBuf>, String> {
    let paths = image_paths(out, images.len());
    for (img, path) in images.iter().zip(&paths) {
        img.save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(paths)
}

/// Codes from JSON: `[c, ...]`, `[[c, ...], ...]` or `{"codes": ...}`.
pub fn parse_codes(text: &str) -> Result<Vec<Vec<u32>>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("codes file is not JSON: {e}"))?;
    let value = match value {
        Value::Object(mut map) => map
            .remove("codes")
            .ok_or("codes file: object without a \"codes\" field")?,
        other => other,
    };
    let Value::Array(items) = value else {
        return Err("codes file: expected a list".into());
    };
    let as_code = |v: &Value| -> Result<u32, String> {
        v.as_u64()
            .filter(|&c| c <= u32::MAX as u64)
            .map(|c| c as u32)
            .ok_or_else(|| format!("codes file: {v} is not a code"))
    };
    if items.iter().all(Value::is_array) && !items.is_empty() {
        items
            .iter()
            .map(|row| match row {
                Value::Array(r) => r.iter().map(as_code).collect(),
                _ => Err("codes file: mixed list".into()),
            })
            .collect()
    } else {
        Ok(vec![items.iter().map(as_code).collect::<Result<_, _>>()?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_files_in_three_shapes() {
        assert_eq!(parse_codes("[1,2]").unwrap(), vec![vec![1, 2]]);
        assert_eq!(parse_codes("[[1],[2]]").unwrap(), vec![vec![1], vec![2]]);
        assert_eq!(parse_codes(r#"{"codes":[[3]]}"#).unwrap(), vec![vec![3]]);
        assert!(parse_codes("[-1]").is_err());
        assert!(parse_codes("{}").is_err());
        assert!(parse_codes("[[1],2]").is_err());
    }

    #[test]
    fn numbered_names_for_several_images() {
        assert_eq!(
            image_paths(Path::new("a/x.png"), 1),
            vec![PathBuf::from("a/x.png")]
        );
        assert_eq!(
            image_paths(Path::new("a/x.png"), 2),
            vec![PathBuf::from("a/x-0.png"), PathBuf::from("a/x-1.png")]
        );
    }
}
