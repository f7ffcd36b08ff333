//! Byte sources: where checkpoint files come from.
//!
//! The loader asks for byte ranges one tensor at a time, so no implementation ever has to hold a
//! whole checkpoint in one buffer. Native code reads files; tests read memory; the browser build
//! implements the same reads over HTTP and IndexedDB chunks.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::SourceError;

/// Random access to the files of one model repository.
pub trait ByteSource {
    /// Size in bytes of `file`, or [`SourceError::NotFound`].
    fn size(&self, file: &str) -> Result<u64, SourceError>;

    /// Exactly `len` bytes of `file` starting at `offset`.
    fn read(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, SourceError>;

    /// The whole file (for the small JSON files).
    fn read_all(&self, file: &str) -> Result<Vec<u8>, SourceError> {
        let size = self.size(file)?;
        self.read(file, 0, size)
    }

    /// Whether `file` exists; other errors count as "exists" so they surface on read.
    fn exists(&self, file: &str) -> bool {
        !matches!(self.size(file), Err(SourceError::NotFound { .. }))
    }
}

/// A file name inside a model repository: plain, relative, no traversal.
pub fn check_file_name(file: &str) -> Result<(), SourceError> {
    let ok = !file.is_empty()
        && !file.starts_with('/')
        && !file.contains('\\')
        && !file.contains('\0')
        && file
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if ok {
        Ok(())
    } else {
        Err(SourceError::Io {
            file: file.to_string(),
            message: "not a plain file name inside the model folder".into(),
        })
    }
}

fn check_range(file: &str, offset: u64, len: u64, size: u64) -> Result<(), SourceError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(SourceError::OutOfRange {
            file: file.to_string(),
            offset,
            len,
            size,
        }),
    }
}

/// A model folder on disk.
#[derive(Clone, Debug)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, file: &str) -> Result<PathBuf, SourceError> {
        check_file_name(file)?;
        Ok(self.root.join(file))
    }
}

fn io_error(file: &str, e: std::io::Error) -> SourceError {
    if e.kind() == std::io::ErrorKind::NotFound {
        SourceError::NotFound {
            file: file.to_string(),
        }
    } else {
        SourceError::Io {
            file: file.to_string(),
            message: e.to_string(),
        }
    }
}

impl ByteSource for DirSource {
    fn size(&self, file: &str) -> Result<u64, SourceError> {
        let meta = std::fs::metadata(self.path(file)?).map_err(|e| io_error(file, e))?;
        if !meta.is_file() {
            return Err(SourceError::Io {
                file: file.to_string(),
                message: "not a regular file".into(),
            });
        }
        Ok(meta.len())
    }

    fn read(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, SourceError> {
        let size = self.size(file)?;
        check_range(file, offset, len, size)?;
        let mut f = File::open(self.path(file)?).map_err(|e| io_error(file, e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_error(file, e))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf).map_err(|e| io_error(file, e))?;
        Ok(buf)
    }
}

/// Files held in memory (tests, and small models handed over whole).
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    files: HashMap<String, Vec<u8>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, file: impl Into<String>, bytes: Vec<u8>) {
        self.files.insert(file.into(), bytes);
    }

    pub fn remove(&mut self, file: &str) -> Option<Vec<u8>> {
        self.files.remove(file)
    }

    pub fn get_mut(&mut self, file: &str) -> Option<&mut Vec<u8>> {
        self.files.get_mut(file)
    }

    /// Every regular file directly inside `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, SourceError> {
        let name = dir.display().to_string();
        let mut out = Self::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io_error(&name, e))? {
            let entry = entry.map_err(|e| io_error(&name, e))?;
            if entry.path().is_file() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let bytes = std::fs::read(entry.path()).map_err(|e| io_error(&file, e))?;
                out.insert(file, bytes);
            }
        }
        Ok(out)
    }
}

impl ByteSource for MemorySource {
    fn size(&self, file: &str) -> Result<u64, SourceError> {
        self.files
            .get(file)
            .map(|b| b.len() as u64)
            .ok_or_else(|| SourceError::NotFound {
                file: file.to_string(),
            })
    }

    fn read(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, SourceError> {
        let bytes = self.files.get(file).ok_or_else(|| SourceError::NotFound {
            file: file.to_string(),
        })?;
        check_range(file, offset, len, bytes.len() as u64)?;
        Ok(bytes[offset as usize..(offset + len) as usize].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape_the_folder() {
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a\\b", "./x", "a//b"] {
            assert!(check_file_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "model.safetensors",
            "model-00001-of-00002.safetensors",
            "sub/x.json",
        ] {
            assert!(check_file_name(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn reads_are_exact_or_errors() {
        let mut m = MemorySource::new();
        m.insert("a", vec![1, 2, 3, 4]);
        assert_eq!(m.read("a", 1, 2).unwrap(), vec![2, 3]);
        assert!(matches!(
            m.read("a", 3, 2),
            Err(SourceError::OutOfRange { .. })
        ));
        assert!(matches!(
            m.read("a", u64::MAX, 2),
            Err(SourceError::OutOfRange { .. })
        ));
        assert!(matches!(m.size("b"), Err(SourceError::NotFound { .. })));
        assert!(!m.exists("b"));
    }

    #[test]
    fn dir_source_reads_ranges() {
        let dir = std::env::temp_dir().join(format!("janus-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.bin"), [9u8, 8, 7, 6, 5]).unwrap();
        let s = DirSource::new(&dir);
        assert_eq!(s.size("f.bin").unwrap(), 5);
        assert_eq!(s.read("f.bin", 2, 3).unwrap(), vec![7, 6, 5]);
        assert!(s.read("f.bin", 4, 2).is_err());
        assert!(matches!(
            s.size("missing"),
            Err(SourceError::NotFound { .. })
        ));
        assert!(s.read("../f.bin", 0, 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
