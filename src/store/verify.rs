//! Cross-tree invariant checks.

use std::collections::HashMap;

use super::codec::geometry::{Form, Geometry};
use super::codec::{self, keys, meta};
use super::{gen_of, gen_tree, Store, STAT_SEALING};
use crate::error::{Error, Result};
use crate::scoring;

/// Checks every invariant between the trees and returns each violation as a
/// sentence. Storage errors (not damage) are returned as `Err`.
///
/// Invariants:
/// - `meta` holds the magic, this format version and a config; the active
///   generation has a codebook and one IDF weight per word;
/// - `records` and `docs` are inverse maps;
/// - every doc has a histogram in the active generation and vice versa; the
///   histogram's words are below the vocabulary size and its stored norms
///   match its weights;
/// - the generation's norms tree, when marked complete, holds every doc's
///   histogram norms exactly; any entry (complete or not) matches its
///   histogram, and none exists without one;
/// - a doc's geometry, where stored, decodes and holds exactly the words of
///   its histogram; there is none without a histogram;
/// - posting blocks decode, do not overlap, and hold exactly the (word, doc,
///   tf) triples of the histograms (checked per doc by count and an
///   order-independent fingerprint, in memory proportional to the doc count),
///   except for docs at or above a format-3 generation's sealed watermark,
///   which no block holds; the unsealed docs' posting count is exact and no seal is
///   left unfinished;
/// - the doc and posting counts in stats are exact; every doc id is below the
///   doc counter; no tree of another generation remains.
pub(crate) fn verify(store: &Store) -> Result<Vec<String>> {
    let mut v = Vec::new();
    let active = match store.active() {
        Ok(a) => a,
        Err(e @ Error::Corruption { .. }) => {
            v.push(e.to_string());
            return Ok(v);
        }
        Err(e) => return Err(e),
    };
    let next_doc = match store.next_doc() {
        Ok(n) => n,
        Err(e) => {
            v.push(e.to_string());
            u64::MAX
        }
    };
    for name in store.db.tree_names() {
        if let Some(n) = gen_of(&name) {
            if Some(n) != active {
                v.push(format!(
                    "tree {} belongs to inactive generation {n}",
                    String::from_utf8_lossy(&name)
                ));
            }
        }
    }

    // records ↔ docs
    let mut doc_ids = HashMap::new();
    for kv in store.records.iter() {
        let (k, val) = kv?;
        match meta::u64_from(&val) {
            Err(e) => v.push(e.at("records", &k).to_string()),
            Ok(id) => {
                doc_ids.insert(id, k.to_vec());
            }
        }
    }
    let mut docs = 0u64;
    for kv in store.docs.iter() {
        let (k, val) = kv?;
        docs += 1;
        let id = match keys::doc_from(&k) {
            Ok(id) => id,
            Err(e) => {
                v.push(e.at("docs", &k).to_string());
                continue;
            }
        };
        if id >= next_doc {
            v.push(format!("doc {id} is not below the doc counter {next_doc}"));
        }
        match codec::doc::decode(&val) {
            Err(e) => v.push(e.at("docs", &k).to_string()),
            Ok(d) => match doc_ids.remove(&id) {
                Some(r) if r == d.record_id => {}
                Some(r) => v.push(format!(
                    "record {} points to doc {id}, which belongs to record {}",
                    String::from_utf8_lossy(&r),
                    String::from_utf8_lossy(&d.record_id)
                )),
                None => v.push(format!(
                    "doc {id} (record {}) has no entry in records",
                    String::from_utf8_lossy(&d.record_id)
                )),
            },
        }
    }
    for (id, r) in doc_ids {
        v.push(format!(
            "record {} points to missing doc {id}",
            String::from_utf8_lossy(&r)
        ));
    }

    let Some(n) = active else {
        if docs > 0 {
            v.push(format!("{docs} docs stored but no active generation"));
        }
        return Ok(v);
    };
    let g = store.generation(n)?;
    let (codebook, idf) = match store.load_vocabulary(&g) {
        Ok(x) => x,
        Err(e @ Error::Corruption { .. }) => {
            v.push(e.to_string());
            return Ok(v);
        }
        Err(e) => return Err(e),
    };
    let words = codebook.words() as u32;
    let unsealed = match store.unsealed_state(&g) {
        Ok(t) => t,
        Err(e @ Error::Corruption { .. }) => {
            v.push(e.to_string());
            None
        }
        Err(e) => return Err(e),
    };
    let sealed_below = unsealed.map_or(u64::MAX, |t| t.sealed_below);
    if g.stats.get(STAT_SEALING)?.is_some() {
        v.push(format!(
            "generation {n}: a seal was interrupted (it is finished on the next open)"
        ));
    }
    let mut unsealed_postings = 0u64;

    // docs ↔ histograms, and per-doc fingerprints of the expected postings.
    let hist_tree = gen_tree(n, "hist");
    let norms_tree = gen_tree(n, "norms");
    let complete_norms = store.has_norms(&g)?;
    let mut expected: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut total_postings = 0u64;
    for kv in g.hist.iter() {
        let (k, val) = kv?;
        let id = match keys::doc_from(&k) {
            Ok(id) => id,
            Err(e) => {
                v.push(e.at(&hist_tree, &k).to_string());
                continue;
            }
        };
        if store.docs.get(k.as_ref())?.is_none() {
            v.push(format!("histogram of doc {id} has no doc"));
        }
        let h = match codec::hist::decode(g.layout, &val) {
            Ok(h) => h,
            Err(e) => {
                v.push(e.at(&hist_tree, &k).to_string());
                continue;
            }
        };
        if let Some(&(w, _)) = h.entries.iter().find(|(w, _)| *w >= words) {
            v.push(format!(
                "doc {id} uses word {w} outside the {words}-word vocabulary"
            ));
            continue;
        }
        let (cos, l1) = scoring::norms(&h.entries, &idf);
        if !close(cos, h.cos_norm) || !close(l1, h.l1_norm) {
            v.push(format!("doc {id}: stored norms do not match its histogram"));
        }
        match g.norms.get(&k)? {
            None if complete_norms => v.push(format!("doc {id} has no entry in {norms_tree}")),
            None => {}
            Some(raw) => match codec::hist::decode_norms_entry(&raw) {
                Err(e) => v.push(e.at(&norms_tree, &k).to_string()),
                Ok(n) if n != (h.cos_norm, h.l1_norm) => v.push(format!(
                    "doc {id}: {norms_tree} disagrees with its histogram's norms"
                )),
                Ok(_) => {}
            },
        }
        total_postings += h.entries.len() as u64;
        if id >= sealed_below {
            unsealed_postings += h.entries.len() as u64;
        }
        let fp = h
            .entries
            .iter()
            .fold(0u64, |a, &(w, tf)| a.wrapping_add(mix(w, tf)));
        expected.insert(id, (h.entries.len() as u64, fp));
    }
    for kv in store.docs.iter() {
        let (k, _) = kv?;
        if let Ok(id) = keys::doc_from(&k) {
            if !expected.contains_key(&id) && g.hist.get(&k)?.is_none() {
                v.push(format!("doc {id} has no histogram in generation {n}"));
            }
        }
    }

    for kv in g.norms.iter() {
        let (k, _) = kv?;
        match keys::doc_from(&k) {
            Err(e) => v.push(e.at(&norms_tree, &k).to_string()),
            Ok(id) if !expected.contains_key(&id) => v.push(format!(
                "{norms_tree} names doc {id}, which has no histogram"
            )),
            Ok(_) => {}
        }
    }

    // geometry: optional per doc; when present, exactly its histogram's words.
    let geo_tree = gen_tree(n, "geometry");
    for kv in g.geometry.iter() {
        let (k, val) = kv?;
        let id = match keys::doc_from(&k) {
            Ok(id) => id,
            Err(e) => {
                v.push(e.at(&geo_tree, &k).to_string());
                continue;
            }
        };
        let decoded = match g.geometry_form {
            Form::Listed => codec::geometry::decode_listed(&val),
            form @ (Form::Packed | Form::Narrow) => match store.histogram(&g, id) {
                // Reported below, as for the listed form.
                Ok(None) => Ok(Geometry::default()),
                Ok(Some(h)) => codec::geometry::decode_packed(form, &val, &h.entries),
                // Reported with the histograms.
                Err(Error::Corruption { .. }) => continue,
                Err(e) => return Err(e),
            },
        };
        let geo = match decoded {
            Ok(x) => x,
            Err(e) => {
                v.push(e.at(&geo_tree, &k).to_string());
                continue;
            }
        };
        let counts = geo.word_counts();
        let fp = counts
            .iter()
            .fold(0u64, |a, &(w, tf)| a.wrapping_add(mix(w, tf)));
        match expected.get(&id) {
            None => v.push(format!("geometry of doc {id} has no histogram")),
            Some(&exp) if exp != (counts.len() as u64, fp) => v.push(format!(
                "doc {id}: stored geometry disagrees with its histogram"
            )),
            Some(_) => {}
        }
    }

    // postings
    let post_tree = gen_tree(n, "postings");
    let mut found: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut last: Option<(u32, u64)> = None;
    for kv in g.postings.iter() {
        let (k, val) = kv?;
        let (w, first) = match keys::posting_from(&k) {
            Ok(x) => x,
            Err(e) => {
                v.push(e.at(&post_tree, &k).to_string());
                continue;
            }
        };
        let p = match codec::postings::decode(g.layout, first, &val) {
            Ok(p) => p,
            Err(e) => {
                v.push(e.at(&post_tree, &k).to_string());
                continue;
            }
        };
        if let Some((lw, ld)) = last {
            if lw == w && ld >= first {
                v.push(format!("word {w}: posting blocks overlap at doc {first}"));
            }
        }
        last = p.last().map(|&(d, _)| (w, d));
        if let Some(&(d, _)) = p.last().filter(|(d, _)| *d >= sealed_below) {
            v.push(format!(
                "word {w}: a posting block holds doc {d}, at or above the sealed watermark {sealed_below}"
            ));
        }
        for (d, tf) in p {
            let e = found.entry(d).or_default();
            e.0 += 1;
            e.1 = e.1.wrapping_add(mix(w, tf));
        }
    }
    for (d, exp) in &expected {
        if *d >= sealed_below {
            continue;
        }
        match found.remove(d) {
            Some(f) if f == *exp => {}
            Some(_) => v.push(format!(
                "doc {d}: posting lists disagree with its histogram"
            )),
            None if exp.0 == 0 => {}
            None => v.push(format!("doc {d}: missing from the posting lists")),
        }
    }
    for d in found.keys() {
        if *d < sealed_below {
            v.push(format!(
                "posting lists name doc {d}, which has no histogram"
            ));
        }
    }
    if let Some(t) = unsealed {
        if t.postings != unsealed_postings {
            v.push(format!(
                "stats count {} unsealed postings, the unsealed docs' histograms hold {unsealed_postings}",
                t.postings
            ));
        }
    }

    match store.doc_count(&g) {
        Ok(c) if c == docs => {}
        Ok(c) => v.push(format!("stats count {c} docs, {docs} stored")),
        Err(e) => v.push(e.to_string()),
    }
    match store.posting_count(&g) {
        Ok(c) if c == total_postings => {}
        Ok(c) => v.push(format!(
            "stats count {c} postings, histograms hold {total_postings}"
        )),
        Err(e) => v.push(e.to_string()),
    }
    Ok(v)
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
}

/// A 64-bit mix of (word, tf) so that sums over a doc's postings fingerprint
/// the multiset.
fn mix(w: u32, tf: u32) -> u64 {
    let mut x = (u64::from(w) << 32 | u64::from(tf)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
