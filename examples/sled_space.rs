//! How many bytes sled's files take per byte of values: inserts `N` random
//! values of `LEN` bytes under sequential 8-byte keys, in batches of
//! `BATCH` (one `apply_batch` and flush each), as a build writes geometry,
//! then prints the directory's size over the logical bytes, open and after
//! a reopen.
//!
//! ```text
//! cargo run --release --example sled_space -- N LEN BATCH
//! ```

use std::path::Path;

fn du(p: &Path) -> std::io::Result<u64> {
    let mut t = 0;
    for e in std::fs::read_dir(p)? {
        let e = e?;
        let m = e.metadata()?;
        t += if m.is_dir() { du(&e.path())? } else { m.len() };
    }
    Ok(t)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [n, len, batch] = args[..] else {
        return Err("usage: sled_space N LEN BATCH".into());
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db");
    let db = sled::Config::new().path(&path).open()?;
    let tree = db.open_tree("values")?;
    // xorshift64: incompressible bytes, like packed geometry.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut logical = 0u64;
    let mut k = 0;
    while k < n {
        let mut b = sled::Batch::default();
        for key in k..(k + batch).min(n) {
            let mut v = vec![0u8; len as usize];
            for c in v.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
            }
            logical += 8 + len;
            b.insert(&key.to_be_bytes(), v);
        }
        tree.apply_batch(b)?;
        db.flush()?;
        k += batch;
    }
    let open = du(&path)?;
    drop(tree);
    drop(db);
    let db = sled::Config::new().path(&path).open()?;
    let count = db.open_tree("values")?.len();
    drop(db);
    let reopened = du(&path)?;
    println!(
        "{count} values of {len} bytes in batches of {batch}: logical {logical}, on disk {open} \
         ({:.2}x), after a reopen {reopened} ({:.2}x)",
        open as f64 / logical as f64,
        reopened as f64 / logical as f64
    );
    Ok(())
}
