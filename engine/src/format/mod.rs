//! File formats: the native TOML model format, XMILE, and numeric tables;
//! and writing CSV tables ([`csv_table`]).
pub mod csv_table;
pub mod describe;
pub mod native;
pub mod table;
pub mod vensim;
pub mod xmile;

use crate::error::{Error, Result};
use crate::model::Model;
use std::io::Write;
use std::path::Path;

/// Reads a model file, choosing the format by extension: `.toml` is the
/// native format; `.xmile`, `.xml`, `.stmx` and `.itmx` are XMILE; `.mdl` is
/// Vensim.
///
/// # Errors
///
/// [`Error::Invalid`] for an extension that is not a model format;
/// otherwise the reader's errors.
pub fn load_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    match extension(path).as_str() {
        "toml" => native::load(path),
        "xmile" | "xml" | "stmx" | "itmx" => xmile::load(path),
        "mdl" => vensim::load(path),
        other => Err(Error::Invalid {
            what: "model file".into(),
            message: format!(
                "{}: `.{other}` is not a model format carecascade reads; expected `.toml` (native), `.xmile`, `.stmx`, `.itmx` (XMILE) or `.mdl` (Vensim)",
                path.display()
            ),
        }),
    }
}

/// A model file read into memory, with the names errors and models use.
pub(crate) struct SourceFile {
    pub text: String,
    /// The path as given, for error messages.
    pub name: String,
    /// The file name without its extension: a model's default name.
    pub stem: String,
}

impl SourceFile {
    pub(crate) fn read(path: &Path) -> Result<SourceFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(SourceFile {
            text,
            name: path.display().to_string(),
            stem: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".to_string()),
        })
    }
}

/// Builds the model, reporting the reader's own errors and the builder's
/// together.
pub(crate) fn build_with(
    builder: crate::build::ModelBuilder,
    mut errors: Vec<Error>,
) -> Result<Model> {
    match builder.build() {
        Ok(model) if errors.is_empty() => Ok(model),
        Ok(_) => Err(Error::many(errors)),
        Err(e) => {
            errors.extend(e.into_list());
            Err(Error::many(errors))
        }
    }
}

/// Splits text at any of `separators` outside parentheses, brackets and
/// quotes: (byte offset, part).
pub(crate) fn split_top_level<'a>(text: &'a str, separators: &[char]) -> Vec<(usize, &'a str)> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if depth == 0 && separators.contains(&c) => {
                parts.push((start, &text[start..i]));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push((start, &text[start..]));
    parts
}

/// A name without surrounding spaces and quotes.
pub(crate) fn unquoted(name: &str) -> &str {
    let name = name.trim();
    name.strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name)
        .trim()
}

/// Writes a model to a file, choosing the format by extension (`.toml`:
/// native; `.xmile`, `.xml`, `.stmx`, `.itmx`: XMILE). The file is written
/// atomically.
///
/// # Errors
///
/// [`Error::Invalid`] for an extension that is not a model format;
/// [`Error::Io`] if the file cannot be written.
pub fn save_model(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let text = match extension(path).as_str() {
        "toml" => native::write(model),
        "xmile" | "xml" | "stmx" | "itmx" => xmile::write(model),
        other => {
            return Err(Error::Invalid {
                what: "output model file".into(),
                message: format!(
                    "{}: `.{other}` is not a model format carecascade writes; expected `.toml` or `.xmile`",
                    path.display()
                ),
            });
        }
    };
    write_atomic(path, text.as_bytes())
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Writes a file atomically: the bytes go to a temporary file beside the
/// target, which is then renamed over it, so that an interrupted run never
/// leaves a half-written file.
///
/// # Errors
///
/// [`Error::Io`] naming the file.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let temp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::io(path, e)
    })
}

/// Turns a TOML error in `file` into a located [`Error::File`], suggesting
/// the closest valid field for an unknown one.
pub fn toml_error(text: &str, file: Option<&str>, e: &toml::de::Error) -> Error {
    native::toml_error(text, file.map(std::sync::Arc::from).as_ref(), e)
}
