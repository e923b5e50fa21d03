//! File formats: the native TOML model format, XMILE, and numeric tables;
//! and what writing files needs: CSV tables ([`csv_table`]), markup
//! escaping ([`escape_markup`]) and atomic replacement ([`write_atomic`]).
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
/// [`Error::Invalid`] for a directory or an extension that is not a model
/// format; otherwise the reader's errors.
pub fn load_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    if path.is_dir() {
        return Err(Error::Invalid {
            what: "model file".into(),
            message: format!(
                "{} is a directory, not a model file; give the model file in it (`.toml`, `.xmile`, `.stmx`, `.itmx` or `.mdl`)",
                path.display()
            ),
        });
    }
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

/// Writes a file atomically: the bytes go to a new temporary file beside
/// the target (`.NAME.PID.*.tmp`, created by `tempfile` with a random part,
/// exclusively, so never through an existing file or link), which is
/// flushed to disk and then renamed over the target. An interrupted run
/// never leaves a half-written file, and a failed write leaves no temporary
/// file behind; the temporary file of a process killed part way is removed
/// by the next write of the same file (on Linux).
///
/// Only a regular file is replaced. A target that exists and is anything
/// else (a symbolic link, even to a regular file; a directory; a device such
/// as `/dev/null`; a FIFO or a socket) is refused and left as it is: renaming
/// over it would replace the link or device rather than write through it.
/// A new file gets the permissions [`std::fs::File::create`] would give it.
///
/// # Errors
///
/// [`Error::Io`] naming the file: for a target that is not a regular file,
/// saying what it is; otherwise the error of creating, writing or renaming.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "is {}, not a regular file; refusing to replace it",
                        file_kind(&meta.file_type())
                    ),
                ),
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    replace_file(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes a temporary file beside `path` and renames it over `path`, without
/// checking what `path` is. The temporary file is removed on any failure
/// (when the [`tempfile::NamedTempFile`] is dropped).
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy());
    remove_stale(dir, &format!(".{name}."));
    let prefix = format!(".{name}.{}.", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The mode `File::create` uses; the umask applies to it as usual
        // (tempfile's own default is 0o600).
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable; a failure here loses nothing written.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Writes a set of files as one folder `dir`, all or nothing: they are
/// written into a fresh temporary folder beside `dir` (`.NAME.PID.*.tmp`),
/// flushed to disk, and then put in place in one step. An existing `dir` is
/// replaced only if it is a directory holding nothing but files of the set
/// (an earlier result): on Linux the two folders are exchanged atomically
/// (`renameat2` with `RENAME_EXCHANGE`), so that `dir` always holds either
/// the old complete set or the new complete set and is never absent, and
/// the old set, now in the temporary folder, is removed. (Where the
/// exchange is not available, on other systems or file systems, the old
/// folder is renamed aside first, so that `dir` is briefly absent.)
///
/// A process killed part way leaves `dir` as it was or complete with the
/// new set. It can leave its hidden temporary folder beside `dir`; the next
/// write of `dir` removes temporary folders whose process is no longer
/// running (on Linux), and nothing reads them as results.
///
/// A name may be a relative path in folders of the set (`E08000035/runs.csv`);
/// [`SetWriter`] writes a set one file at a time.
///
/// # Errors
///
/// [`Error::Io`] naming `dir` if it is not a directory, holds anything
/// else, or a file cannot be written or renamed; [`Error::Invalid`] for a
/// name that is not a relative path inside the set.
pub fn write_set(
    dir: impl AsRef<Path>,
    files: &[(&str, &[u8])],
) -> Result<Vec<std::path::PathBuf>> {
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let mut set = SetWriter::new(dir, &names)?;
    for (name, bytes) in files {
        set.add(name, bytes)?;
    }
    set.finish()
}

/// Checks that [`write_set`] may write the files `names` as the folder
/// `dir` (before doing the work that makes them), returning whether `dir`
/// exists.
///
/// # Errors
///
/// As [`write_set`], for a `dir` that it would refuse to replace.
pub fn check_set(dir: impl AsRef<Path>, names: &[&str]) -> Result<bool> {
    let dir = dir.as_ref();
    for name in names {
        check_set_name(name)?;
    }
    let refuse = |message: String| {
        Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
        )
    };
    let exists = match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_dir() => true,
        Ok(meta) => {
            let kind = if meta.file_type().is_file() {
                "a file"
            } else {
                file_kind(&meta.file_type())
            };
            return Err(refuse(format!(
                "is {kind}, not a folder of results; refusing to replace it"
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(dir, e)),
    };
    if exists {
        // Folders of the set: every leading part of a name.
        let folders: Vec<&str> = names
            .iter()
            .flat_map(|n| n.match_indices('/').map(move |(i, _)| &n[..i]))
            .collect();
        let mut others = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(folder) = pending.pop() {
            let path = dir.join(&folder);
            for entry in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
                let entry = entry.map_err(|e| Error::io(&path, e))?;
                let leaf = entry.file_name().to_string_lossy().into_owned();
                let name = if folder.is_empty() {
                    leaf
                } else {
                    format!("{folder}/{leaf}")
                };
                let kind = entry.file_type().ok();
                if kind.is_some_and(|t| t.is_file()) && names.contains(&name.as_str()) {
                    continue;
                }
                if kind.is_some_and(|t| t.is_dir()) && folders.contains(&name.as_str()) {
                    pending.push(name);
                    continue;
                }
                others.push(name);
            }
        }
        if !others.is_empty() {
            others.sort();
            let shown: Vec<String> = others.iter().take(5).map(|n| format!("`{n}`")).collect();
            return Err(refuse(format!(
                "holds {}{} besides results; refusing to replace it (choose another output folder)",
                shown.join(", "),
                if others.len() > 5 {
                    format!(" and {} more", others.len() - 5)
                } else {
                    String::new()
                }
            )));
        }
    }
    Ok(exists)
}

/// A name in a set: a relative path of plain parts (no `.`, `..`, empty
/// parts or backslashes).
fn check_set_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.contains('\\')
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(Error::Invalid {
            what: format!("file `{name}` of a set"),
            message: "must be a relative path inside the set's folder".into(),
        });
    }
    Ok(())
}

/// Writes a set of files as one folder, one file at a time, with the
/// guarantees of [`write_set`]: nothing appears at the folder until
/// [`SetWriter::finish`], which renames the complete set into place. If the
/// writer is dropped unfinished, the folder is left as it was.
#[derive(Debug)]
pub struct SetWriter {
    dir: std::path::PathBuf,
    names: Vec<String>,
    exists: bool,
    prefix: String,
    parent: std::path::PathBuf,
    temp: tempfile::TempDir,
    written: Vec<std::path::PathBuf>,
}

impl SetWriter {
    /// Starts writing the set `names` as the folder `dir`, having checked
    /// that `dir` may be replaced ([`check_set`]).
    ///
    /// # Errors
    ///
    /// As [`check_set`]; [`Error::Io`] if the temporary folder cannot be
    /// made.
    pub fn new(dir: impl AsRef<Path>, names: &[&str]) -> Result<SetWriter> {
        let dir = dir.as_ref();
        let exists = check_set(dir, names)?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = dir
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let prefix = format!(".{name}.{}.", std::process::id());
        remove_stale(parent, &format!(".{name}."));
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The mode `create_dir` uses, less the umask (tempfile's default
            // is 0o700).
            builder.permissions(std::fs::Permissions::from_mode(0o777));
        }
        let temp = builder
            .tempdir_in(parent)
            .map_err(|e| Error::io(parent, e))?;
        Ok(SetWriter {
            dir: dir.to_path_buf(),
            names: names.iter().map(|n| n.to_string()).collect(),
            exists,
            prefix,
            parent: parent.to_path_buf(),
            temp,
            written: Vec::new(),
        })
    }

    /// Writes one file of the set (in its folders, made as needed).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a name that is not one of the set's, or one
    /// already written; [`Error::Io`] if it cannot be written.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.add_with(name, &mut |f| {
            f.write_all(bytes).map_err(|e| Error::io(name, e))
        })
    }

    /// Writes one file of the set through `write`, given the new file
    /// (for a file too large to make in memory first); as
    /// [`SetWriter::add`] otherwise.
    ///
    /// # Errors
    ///
    /// As [`SetWriter::add`]; `write`'s error.
    pub fn add_with(
        &mut self,
        name: &str,
        write: &mut dyn FnMut(&mut std::fs::File) -> Result<()>,
    ) -> Result<()> {
        let target = self.dir.join(name);
        if !self.names.iter().any(|n| n == name) || self.written.contains(&target) {
            return Err(Error::Invalid {
                what: format!("file `{name}` of the set {}", self.dir.display()),
                message: "is not one of the set's files, or was written already".into(),
            });
        }
        let path = self.temp.path().join(name);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
        }
        let mut f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        write(&mut f)?;
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        self.written.push(target);
        Ok(())
    }

    /// Puts the set in place (replacing an earlier one: exchanged in one
    /// step where the system can, see [`write_set`]), and returns the files
    /// written.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the folder cannot be put in place; the earlier set
    /// is then left (or put back) where it was.
    pub fn finish(self) -> Result<Vec<std::path::PathBuf>> {
        let SetWriter {
            dir,
            exists,
            prefix,
            parent,
            temp,
            written,
            ..
        } = self;
        sync_dir(temp.path());
        let new = temp.keep();
        if exists {
            match exchange(&new, &dir) {
                Ok(true) => {
                    // `new` now holds the old set.
                    sync_dir(&parent);
                    let _ = std::fs::remove_dir_all(&new);
                    return Ok(written);
                }
                Ok(false) => {}
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&new);
                    return Err(Error::io(&dir, e));
                }
            }
        }
        let old = if exists {
            let aside = match tempfile::Builder::new()
                .prefix(&prefix)
                .suffix(".old.tmp")
                .tempdir_in(&parent)
            {
                Ok(aside) => aside,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&new);
                    return Err(Error::io(&parent, e));
                }
            };
            // Renaming a folder over an empty one replaces it.
            if let Err(e) = std::fs::rename(&dir, aside.path()) {
                let _ = std::fs::remove_dir_all(&new);
                return Err(Error::io(&dir, e));
            }
            Some(aside)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&new, &dir) {
            // Put the old set back, and leave nothing behind.
            if let Some(old) = &old {
                let _ = std::fs::rename(old.path(), &dir);
            }
            let _ = std::fs::remove_dir_all(&new);
            return Err(Error::io(&dir, e));
        }
        drop(old);
        sync_dir(&parent);
        Ok(written)
    }
}

/// Flushes a folder's entries (a rename in it) to disk, where that is
/// possible; a failure loses nothing written.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Exchanges the folders `a` and `b` in one step, returning `false` where
/// the system or the file system cannot (the caller then renames).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    use rustix::io::Errno;
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        // An old kernel, or a file system without the exchange.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Exchanges the folders `a` and `b` in one step, returning `false` where
/// the system or the file system cannot (the caller then renames).
#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// Removes the temporary files and folders `PREFIX.PID.*.tmp` in `parent`
/// left by processes that are no longer running (killed part way through a
/// write; checked on Linux through /proc; elsewhere nothing is removed).
fn remove_stale(parent: &Path, prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !name.ends_with(".tmp") || !(kind.is_dir() || kind.is_file()) {
            continue;
        }
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = if kind.is_dir() {
                std::fs::remove_dir_all(entry.path())
            } else {
                std::fs::remove_file(entry.path())
            };
        }
    }
}

/// What a file that is not a regular file is, for error messages.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Escapes text for HTML and XML, in element content and in attribute
/// values quoted with `"` or `'`: `&` becomes `&amp;`, `<` `&lt;`, `>`
/// `&gt;`, `"` `&quot;` and `'` `&#39;` (understood by XML and every HTML).
/// Text without those characters is returned as it is.
///
/// ```
/// use carecascade_engine::format::escape_markup;
///
/// assert_eq!(escape_markup("R&D <costs> \"new\" 'x'"), "R&amp;D &lt;costs&gt; &quot;new&quot; &#39;x&#39;");
/// assert_eq!(escape_markup("children in care"), "children in care");
/// ```
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Turns a TOML error in `file` into a located [`Error::File`], suggesting
/// the closest valid field for an unknown one.
pub fn toml_error(text: &str, file: Option<&str>, e: &toml::de::Error) -> Error {
    native::toml_error(text, file.map(std::sync::Arc::from).as_ref(), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The names in a directory, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn refused(path: &Path, what: &str) {
        let err = write_atomic(path, b"new").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(
            message.starts_with(&path.display().to_string())
                && message.contains(&format!("is {what}, not a regular file")),
            "{message}"
        );
    }

    #[test]
    fn write_atomic_replaces_a_regular_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        // A reader that opened the old file goes on reading all of it: the
        // new contents arrive as a new file renamed over the old one, not by
        // truncating and rewriting it.
        let mut old = std::fs::File::open(&path).unwrap();
        write_atomic(&path, b"second, longer").unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut old, &mut text).unwrap();
        assert_eq!(text, "first");
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        assert_eq!(listing(dir.path()), ["out.csv"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Not tempfile's private 0o600: what `File::create` would give.
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_ne!(mode & 0o044, 0, "{mode:o}");
        }
    }

    #[test]
    fn write_atomic_in_a_missing_directory_fails_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("out.csv");
        let err = write_atomic(&path, b"x").unwrap_err();
        assert!(
            err.to_string().starts_with(&path.display().to_string()),
            "{err}"
        );
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn write_atomic_refuses_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("results");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), "keep").unwrap();
        refused(&target, "a directory");
        assert!(target.is_dir());
        assert_eq!(listing(&target), ["inside"]);
        assert_eq!(listing(dir.path()), ["results"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_refuses_a_symbolic_link_and_leaves_both_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        refused(&link, "a symbolic link");
        assert_eq!(std::fs::read_link(&link).unwrap(), target);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        // A dangling link too.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        refused(&dangling, "a symbolic link");
        assert_eq!(listing(dir.path()), ["dangling", "link.txt", "target.txt"]);
    }

    /// Makes a FIFO in `dir` with `mkfifo`.
    #[cfg(unix)]
    fn fifo(dir: &Path) -> PathBuf {
        let path = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        path
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_refuses_a_fifo_and_a_device() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo(dir.path());
        refused(&fifo, "a FIFO (named pipe)");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        // A device like /dev/null (1, 3), made in the scratch directory, so
        // that a failure of this test cannot replace the real one.
        let device = dir.path().join("null");
        let made = std::process::Command::new("mknod")
            .arg(&device)
            .args(["c", "1", "3"])
            .status()
            .is_ok_and(|s| s.success());
        if made {
            refused(&device, "a character device");
            assert!(
                std::fs::symlink_metadata(&device)
                    .unwrap()
                    .file_type()
                    .is_char_device()
            );
        }
        let mut expected = vec!["fifo"];
        if made {
            expected.push("null");
        }
        assert_eq!(listing(dir.path()), expected);
    }

    /// When the rename fails, the temporary file is removed.
    #[test]
    fn a_failed_replacement_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("busy");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), "keep").unwrap();
        // Past the check `write_atomic` makes: renaming a file over a
        // directory fails.
        assert!(replace_file(&target, b"new").is_err());
        assert_eq!(listing(dir.path()), ["busy"]);
        assert_eq!(listing(&target), ["inside"]);
    }

    /// The temporary file or folder of a process killed part way through a
    /// write (here a process id that cannot be running) is removed by the
    /// next write of the same target; other files are left alone.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_next_write_removes_what_a_killed_process_left() {
        let dir = tempfile::tempdir().unwrap();
        let dead = ".out.csv.999999999.aBc123.tmp";
        std::fs::write(dir.path().join(dead), "half").unwrap();
        std::fs::write(dir.path().join(".other.csv.999999999.x.tmp"), "").unwrap();
        write_atomic(dir.path().join("out.csv"), b"whole").unwrap();
        assert_eq!(
            listing(dir.path()),
            [".other.csv.999999999.x.tmp", "out.csv"]
        );
        let dead = dir.path().join(".results.999999999.aBc123.tmp");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("summary.json"), "{").unwrap();
        write_set(dir.path().join("results"), &[("summary.json", b"{}")]).unwrap();
        assert_eq!(
            listing(dir.path()),
            [".other.csv.999999999.x.tmp", "out.csv", "results"]
        );
        // Replacing the folder exchanges it whole and removes the old set.
        write_set(dir.path().join("results"), &[("summary.json", b"{ }")]).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("results/summary.json")).unwrap(),
            b"{ }"
        );
        assert_eq!(
            listing(dir.path()),
            [".other.csv.999999999.x.tmp", "out.csv", "results"]
        );
    }

    #[test]
    fn escape_markup_escapes_the_five_characters() {
        assert_eq!(
            escape_markup(r#"a & b < c > d "e" 'f' &amp;"#),
            "a &amp; b &lt; c &gt; d &quot;e&quot; &#39;f&#39; &amp;amp;"
        );
        assert_eq!(escape_markup("plain text, é"), "plain text, é");
        assert_eq!(escape_markup(""), "");
    }
}
