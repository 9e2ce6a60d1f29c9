//! Reading image files: one open, every check on the opened descriptor, a
//! bounded read.
//!
//! A file is opened once; its type and size are checked with `fstat` on that
//! descriptor and its bytes are read from the same descriptor, at most
//! `max_bytes + 1` of them. A file replaced after the checks is not the one
//! read, and a file that grows cannot make the read unbounded.
//!
//! A confined read ([`read_within`]) also checks where the opened file lies:
//! on Linux the descriptor's own path (`/proc/self/fd/N`, symlinks already
//! resolved by the kernel) must lie inside the root. Elsewhere the path is
//! resolved after the open and must lie inside the root and name the same
//! file (device and inode) as the descriptor; without Unix inodes (Windows)
//! only the resolved path is checked, so a symlink swapped between the open
//! and that check could escape there.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The one reason given for any confined path that cannot be read inside the
/// root: missing, unreadable, or leading out of it. One message for all, so
/// that an answer never tells whether a file exists outside the root.
pub const NOT_INSIDE: &str = "not a readable file inside the allowed root";

/// Reads an image file's bytes: a directory, a non-regular file (a FIFO, a
/// device), an unreadable file or one over `max_bytes` is an
/// [`Error::Image`] naming it.
pub fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let file = open(path).map_err(|e| Error::image(path, format!("cannot read: {e}")))?;
    read_opened(file, path, max_bytes)
}

/// Reads `path` (relative to `root`, or absolute) only if the file opened
/// lies inside `root` once every symlink is resolved; the checks and the read
/// use one descriptor, so a symlink swapped meanwhile cannot redirect the
/// read out of the root. Any path that cannot be read inside the root gives
/// [`NOT_INSIDE`] as the reason.
pub fn read_within(root: &Path, path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let file = open_within(root, path)?;
    read_opened(file, path, max_bytes)
}

/// `path` joined to `root` unless absolute.
pub fn join_within(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

fn open_within(root: &Path, path: &Path) -> Result<File> {
    let refuse = |why: &dyn std::fmt::Display| {
        tracing::debug!("{}: {NOT_INSIDE}: {why}", path.display());
        Error::image(path, NOT_INSIDE)
    };
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(refuse(&"a `..` component"));
    }
    let root = root
        .canonicalize()
        .map_err(|e| refuse(&format!("the root cannot be resolved: {e}")))?;
    let file = open(&join_within(&root, path)).map_err(|e| refuse(&e))?;
    let inside = match descriptor_path(&file) {
        Some(real) => {
            let real = real.map_err(|e| refuse(&format!("the descriptor's path: {e}")))?;
            real.starts_with(&root)
        }
        None => same_file_inside(&file, &join_within(&root, path), &root),
    };
    if !inside {
        return Err(refuse(&"the opened file lies outside the root"));
    }
    Ok(file)
}

/// The path the kernel holds for an open descriptor, symlinks resolved.
#[cfg(target_os = "linux")]
fn descriptor_path(file: &File) -> Option<std::io::Result<PathBuf>> {
    use std::os::fd::AsRawFd;
    Some(std::fs::read_link(format!(
        "/proc/self/fd/{}",
        file.as_raw_fd()
    )))
}

#[cfg(not(target_os = "linux"))]
fn descriptor_path(_file: &File) -> Option<std::io::Result<PathBuf>> {
    None
}

/// Whether `path`, resolved now, lies inside `root` and (on Unix) is the
/// very file `file` has open.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn same_file_inside(file: &File, path: &Path, root: &Path) -> bool {
    let Ok(real) = path.canonicalize() else {
        return false;
    };
    if !real.starts_with(root) {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(&real)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        true
    }
}

/// Opens for reading without blocking on a FIFO (whose open would wait for
/// a writer); the type check that follows refuses it.
fn open(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    o.open(path)
}

fn read_opened(file: File, path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let meta = file
        .metadata()
        .map_err(|e| Error::image(path, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(Error::image(path, "is a directory, not an image"));
    }
    if !meta.is_file() {
        return Err(Error::image(path, "is not a regular file"));
    }
    let over = |what: String| {
        Error::image(
            path,
            format!("{what} exceeds the file size limit of {max_bytes} bytes"),
        )
    };
    if meta.len() > max_bytes {
        return Err(over(format!("{} bytes", meta.len())));
    }
    // The size said by fstat is a hint only: the file may grow or shrink
    // meanwhile, and some files (in /proc) report 0.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::image(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(over("what was read".into()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<Vec<u8>>) -> String {
        match r {
            Err(Error::Image { reason, .. }) => reason,
            Ok(b) => panic!("expected an Image error, read {} bytes", b.len()),
            Err(e) => panic!("expected an Image error, got {e}"),
        }
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_reading() {
        let dir = tempfile::tempdir().expect("temp");
        let p = dir.path().join("big.jpg");
        let f = File::create(&p).expect("create");
        // Sparse: 1 GiB long, no block written.
        f.set_len(1 << 30).expect("set_len");
        let r = reason(read_file(&p, 1 << 20));
        assert_eq!(
            r,
            "1073741824 bytes exceeds the file size limit of 1048576 bytes"
        );
        std::fs::write(&p, b"12345").expect("write");
        assert_eq!(read_file(&p, 5).expect("at the cap"), b"12345");
        assert!(reason(read_file(&p, 4)).contains("exceeds the file size limit"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_read_stops_at_the_cap_whatever_fstat_said() {
        // procfs files report size 0 and hold more.
        let r = reason(read_file(Path::new("/proc/self/maps"), 16));
        assert_eq!(r, "what was read exceeds the file size limit of 16 bytes");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("temp");
        let p = dir.path().join("pipe.jpg");
        let c = std::ffi::CString::new(p.to_str().expect("utf-8")).expect("c path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(reason(read_file(&p, 100)), "is not a regular file");
        assert_eq!(
            reason(read_within(dir.path(), &p, 100)),
            "is not a regular file"
        );
    }

    #[cfg(unix)]
    #[test]
    fn confined_reads_stay_inside_the_root_and_say_the_same_for_all_refusals() {
        let dir = tempfile::tempdir().expect("temp");
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(root.join("sub/in.jpg"), b"inside").expect("write");
        std::fs::write(outside.join("secret.jpg"), b"outside").expect("write");
        std::os::unix::fs::symlink(&outside, root.join("dirlink")).expect("symlink");
        std::os::unix::fs::symlink(outside.join("secret.jpg"), root.join("link.jpg"))
            .expect("symlink");
        std::os::unix::fs::symlink(root.join("sub/in.jpg"), root.join("inlink.jpg"))
            .expect("symlink");

        assert_eq!(
            read_within(&root, Path::new("sub/in.jpg"), 100).expect("in"),
            b"inside"
        );
        assert_eq!(
            read_within(&root, Path::new("inlink.jpg"), 100).expect("in"),
            b"inside"
        );
        assert_eq!(
            read_within(&root, &root.join("sub/in.jpg"), 100).expect("absolute"),
            b"inside"
        );
        for bad in [
            PathBuf::from("link.jpg"),
            PathBuf::from("dirlink/secret.jpg"),
            PathBuf::from("dirlink/missing.jpg"),
            PathBuf::from("missing.jpg"),
            PathBuf::from("sub/../link.jpg"),
            outside.join("secret.jpg"),
        ] {
            assert_eq!(reason(read_within(&root, &bad, 100)), NOT_INSIDE, "{bad:?}");
        }
        assert_eq!(
            reason(read_within(&root, Path::new("sub"), 100)),
            "is a directory, not an image"
        );
    }
}
