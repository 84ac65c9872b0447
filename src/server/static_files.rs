//! `--root DIR`: map a request path to a regular file under DIR, and nothing outside it.
//! The path is percent-decoded first, then `..` segments and NUL bytes are refused, then the
//! result is canonicalized (resolving every symlink) and must still lie under the canonical
//! root. Only regular files are opened (a FIFO would block the loop). Bodies are streamed in
//! chunks by the caller through [`FileBody::fill`], never read whole; a byte range is reached
//! with a seek ([`FileBody::narrow`]).

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a request path leads to.
#[derive(Debug)]
pub enum Lookup {
    File {
        body: FileBody,
        content_type: &'static str,
        /// mtime, seconds since the epoch, from the descriptor opened (the validators must
        /// describe the bytes sent, not a file swapped in since).
        modified: i64,
    },
    /// A directory asked for without its trailing slash: relative links inside it need one.
    AddSlash,
    NotFound,
    /// A directory without index.html (no listings), or a file the server may not read.
    Forbidden,
    /// Undecodable percent-encoding or a NUL byte.
    BadPath,
}

/// An open file and how much of it is still to send.
#[derive(Debug)]
pub struct FileBody {
    file: File,
    pub remaining: u64,
}

impl FileBody {
    pub fn len(&self) -> u64 {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// Sends only `len` bytes from offset `first` on, instead of the whole file.
    pub fn narrow(&mut self, first: u64, len: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(first))?;
        self.remaining = len;
        Ok(())
    }

    /// Appends up to `max` more bytes of the file to `out`; true when the whole file is out.
    /// A file that shrank while being sent is an error: its Content-Length can no longer be
    /// honoured, so the caller must close the connection.
    pub fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<bool> {
        let want = self.remaining.min(max as u64) as usize;
        let start = out.len();
        out.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            match self.file.read(&mut out[start + got..]) {
                Ok(0) => {
                    out.truncate(start + got);
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being sent",
                    ));
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    out.truncate(start + got);
                    return Err(e);
                }
            }
        }
        self.remaining -= want as u64;
        Ok(self.remaining == 0)
    }
}

/// Resolves `path` (the request target without its query) under the canonical `root`.
pub fn lookup(root: &Path, path: &str) -> Lookup {
    let Some(decoded) = percent_decode(path.as_bytes()) else {
        return Lookup::BadPath;
    };
    if decoded.contains(&0) {
        return Lookup::BadPath;
    }
    let mut rel = PathBuf::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => return Lookup::NotFound,
            s => rel.push(OsStr::from_bytes(s)),
        }
    }
    let Some(mut canon) = contained(root, &root.join(&rel)) else {
        return Lookup::NotFound;
    };
    let Ok(mut meta) = std::fs::metadata(&canon) else {
        return Lookup::NotFound;
    };
    if meta.is_dir() {
        if !decoded.ends_with(b"/") {
            return Lookup::AddSlash;
        }
        match contained(root, &canon.join("index.html")) {
            Some(index) => canon = index,
            None => return Lookup::Forbidden,
        }
        match std::fs::metadata(&canon) {
            Ok(m) => meta = m,
            Err(_) => return Lookup::Forbidden,
        }
    }
    if !meta.is_file() {
        return Lookup::NotFound;
    }
    // O_NONBLOCK: should the path have been swapped for a FIFO since the check, opening it
    // must not block the loop. O_NOFOLLOW: the canonical path has no symlinks left, so one
    // appearing now is someone racing us.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&canon)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Lookup::Forbidden,
        Err(_) => return Lookup::NotFound,
    };
    match file.metadata() {
        Ok(m) if m.is_file() => Lookup::File {
            body: FileBody {
                file,
                remaining: m.len(),
            },
            content_type: content_type(&canon),
            modified: m.mtime(),
        },
        _ => Lookup::NotFound,
    }
}

/// The canonical form of `path` if it exists and lies under `root` (itself canonical).
fn contained(root: &Path, path: &Path) -> Option<PathBuf> {
    let canon = path.canonicalize().ok()?;
    canon.starts_with(root).then_some(canon)
}

/// `%2e%2E%2f` → `../`; None for a `%` not followed by two hex digits.
pub fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            let hi = (h[0] as char).to_digit(16)?;
            let lo = (h[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Content type by extension; unknown types are sent as bytes.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(OsStr::to_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "log" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<p>home</p>").unwrap();
        std::fs::write(root.join("sub/a b.txt"), "spaced").unwrap();
        std::fs::write(top.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(top.path().join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("sub/a b.txt"), root.join("in")).unwrap();
        let root = root.canonicalize().unwrap();
        (top, root)
    }

    fn kind(l: Lookup) -> String {
        match l {
            Lookup::File {
                body, content_type, ..
            } => format!("{} {content_type}", body.len()),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn serves_files_inside_and_nothing_outside() {
        let (_top, root) = tree();
        assert_eq!(kind(lookup(&root, "/")), "11 text/html; charset=utf-8");
        assert_eq!(kind(lookup(&root, "/sub")), "AddSlash");
        assert_eq!(kind(lookup(&root, "/sub/")), "Forbidden");
        assert_eq!(
            kind(lookup(&root, "/sub/a%20b.txt")),
            "6 text/plain; charset=utf-8"
        );
        assert_eq!(kind(lookup(&root, "/in")), "6 text/plain; charset=utf-8");
        for evil in [
            "/../secret",
            "/sub/../../secret",
            "/%2e%2e/secret",
            "/%2E%2E%2Fsecret",
            "/out",
            "/missing",
        ] {
            assert_eq!(kind(lookup(&root, evil)), "NotFound", "{evil}");
        }
        assert_eq!(kind(lookup(&root, "/a%00b")), "BadPath");
        assert_eq!(kind(lookup(&root, "/a%zz")), "BadPath");
        assert_eq!(kind(lookup(&root, "/a%4")), "BadPath");
    }

    #[test]
    fn streams_in_chunks() {
        let (_top, root) = tree();
        let Lookup::File { mut body, .. } = lookup(&root, "/index.html") else {
            panic!()
        };
        let mut out = Vec::new();
        assert!(!body.fill(&mut out, 4).unwrap());
        assert!(!body.fill(&mut out, 4).unwrap());
        assert!(body.fill(&mut out, 4).unwrap());
        assert_eq!(out, b"<p>home</p>");
    }

    #[test]
    fn a_narrowed_body_is_that_slice() {
        let (_top, root) = tree();
        let Lookup::File { mut body, .. } = lookup(&root, "/index.html") else {
            panic!()
        };
        body.narrow(3, 4).unwrap();
        assert_eq!(body.len(), 4);
        let mut out = Vec::new();
        assert!(!body.fill(&mut out, 3).unwrap());
        assert!(body.fill(&mut out, 3).unwrap());
        assert_eq!(out, b"home");
    }
}
