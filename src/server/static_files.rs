//! `--root DIR`: map a request path to a regular file under DIR, and nothing outside it.
//! The path is percent-decoded first, then `..` segments and NUL bytes are refused, then the
//! rest is resolved and opened in one step from a descriptor of DIR opened at start
//! ([`Beneath`]), so that no rename or symlink swapped in meanwhile can lead outside. Only
//! regular files are served (opened non-blocking: a FIFO must not block the loop). Bodies are streamed in
//! chunks by the caller through [`FileBody::fill`], never read whole; a byte range is reached
//! with a seek ([`FileBody::narrow`]).

use std::ffi::OsStr;
use std::fmt::Write;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::kernel::beneath::Beneath;

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
    /// The `Location` to send, built from the normalised path (percent-encoded, one leading
    /// `/`), so that `//evil.com` can never become a redirect to another host.
    AddSlash(String),
    NotFound,
    /// A directory without index.html (no listings), or a file the server may not read.
    Forbidden,
    /// Undecodable percent-encoding or a NUL byte.
    BadPath,
    /// The server could not open or examine what may well exist: out of descriptors or
    /// memory, an I/O error. Not the client's fault, and never a 404 that a cache would keep.
    Failed(io::Error),
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

/// Resolves `path` (the request target without its query) under `root`, in one step with the
/// open (see [`Beneath`]): symlinks that stay under the root are followed, nothing outside it
/// is ever opened, whatever is renamed meanwhile.
pub fn lookup(root: &Beneath, path: &str) -> Lookup {
    let Some(decoded) = percent_decode(path.as_bytes()) else {
        return Lookup::BadPath;
    };
    if decoded.contains(&0) {
        return Lookup::BadPath;
    }
    let mut segs: Vec<&[u8]> = Vec::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => return Lookup::NotFound,
            s => segs.push(s),
        }
    }
    // `/file.txt/` and `/file.txt/.` name a directory: a file there is 404, as in nginx.
    let wants_dir = matches!(decoded.rsplit(|&b| b == b'/').next(), Some(b"" | b"."));
    let rel = segs.join(&b'/');
    let mut name = segs.last().copied().unwrap_or_default();
    let mut file = match root.open_read(&rel) {
        Ok(f) => f,
        Err(e) => return failed(e),
    };
    let mut meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    if meta.is_dir() {
        if !wants_dir {
            let mut location = String::from("/");
            for seg in &segs {
                percent_encode(seg, &mut location);
                location.push('/');
            }
            return Lookup::AddSlash(location);
        }
        let index = if rel.is_empty() {
            b"index.html".to_vec()
        } else {
            [&rel[..], b"/index.html"].concat()
        };
        (file, meta) = match root.open_read(&index).and_then(|f| Ok((f.metadata()?, f))) {
            Ok((m, f)) => (f, m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Lookup::Forbidden,
            Err(e) => return failed(e),
        };
        name = b"index.html";
    } else if wants_dir {
        return Lookup::NotFound;
    }
    if !meta.is_file() {
        return Lookup::NotFound;
    }
    Lookup::File {
        body: FileBody {
            file,
            remaining: meta.len(),
        },
        content_type: content_type(Path::new(OsStr::from_bytes(name))),
        modified: meta.mtime(),
    }
}

/// What an open that failed means for the client: only a path that leads nowhere (or out of
/// the root) is 404.
fn failed(e: io::Error) -> Lookup {
    match e.raw_os_error() {
        Some(
            libc::ENOENT
            | libc::ENOTDIR
            | libc::ELOOP
            | libc::EXDEV
            | libc::ENAMETOOLONG
            | libc::ENXIO
            | libc::ENODEV,
        ) => Lookup::NotFound,
        Some(libc::EACCES | libc::EPERM) => Lookup::Forbidden,
        _ => Lookup::Failed(e),
    }
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

/// Appends `seg` to `out`, every byte but the unreserved and a few safe sub-delimiters as
/// `%XX` (so a name with `/`, `?`, `#`, control bytes or UTF-8 stays one path segment).
pub fn percent_encode(seg: &[u8], out: &mut String) {
    for &b in seg {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
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

    fn tree() -> (tempfile::TempDir, Beneath) {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<p>home</p>").unwrap();
        std::fs::write(root.join("sub/a b.txt"), "spaced").unwrap();
        std::fs::write(top.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(top.path().join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("sub/a b.txt", root.join("in.txt")).unwrap();
        let root = Beneath::open(&root).unwrap();
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
        assert_eq!(kind(lookup(&root, "/sub")), "AddSlash(\"/sub/\")");
        assert_eq!(kind(lookup(&root, "/sub/")), "Forbidden");
        assert_eq!(
            kind(lookup(&root, "/sub/a%20b.txt")),
            "6 text/plain; charset=utf-8"
        );
        assert_eq!(
            kind(lookup(&root, "/in.txt")),
            "6 text/plain; charset=utf-8"
        );
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
    fn a_redirect_location_is_one_local_path_percent_encoded() {
        let (_top, root) = tree();
        let base = root.path().to_path_buf();
        for name in ["evil.com", "a b", "new\r\nline", "q?#", "名前", "%2e"] {
            std::fs::create_dir(base.join(name)).unwrap();
        }
        for (path, location) in [
            ("//evil.com", "/evil.com/"),
            ("/%2F%2Fevil.com", "/evil.com/"),
            ("/a%20b", "/a%20b/"),
            ("/new%0D%0Aline", "/new%0D%0Aline/"),
            ("/q%3F%23", "/q%3F%23/"),
            ("/%E5%90%8D%E5%89%8D", "/%E5%90%8D%E5%89%8D/"),
            ("/%252e", "/%252e/"),
            ("/sub/./", "Forbidden"),
        ] {
            let got = match lookup(&root, path) {
                Lookup::AddSlash(to) => to,
                other => kind(other),
            };
            assert_eq!(got, location, "{path}");
        }
    }

    /// Only a path that leads nowhere (or out of the root) is 404; an open that failed for
    /// the server's own reasons is passed on, to be 503 or 500.
    #[test]
    fn only_a_missing_path_is_not_found() {
        let kind_of = |errno| kind(failed(io::Error::from_raw_os_error(errno)));
        for errno in [libc::ENOENT, libc::ENOTDIR, libc::ELOOP, libc::EXDEV] {
            assert_eq!(kind_of(errno), "NotFound", "{errno}");
        }
        for errno in [libc::EACCES, libc::EPERM] {
            assert_eq!(kind_of(errno), "Forbidden", "{errno}");
        }
        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::EIO,
            libc::EAGAIN,
        ] {
            assert!(kind_of(errno).starts_with("Failed("), "{errno}");
        }
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
