//! Micro-benchmarks of the hot paths: quantization against a flat codebook,
//! posting-block and histogram codecs in both layouts, and feature
//! extraction on a sample photo per feature type. Search at 10k–1M records
//! is `benches/search.rs`, quantization with trees `benches/quantize.rs`.
//!
//! `cargo bench --bench core`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mmindex::features::{extract, Descriptors, ExtractParams, ImageInput};
use mmindex::store::codec::{hist, postings, Layout};
use mmindex::vocab::Codebook;
use mmindex::{Feature, IndexConfig};
use ndarray::Array2;

/// A deterministic pseudo-random stream (SplitMix64), so runs compare.
fn stream(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn quantize(c: &mut Criterion) {
    let mut next = stream(1);
    let mut f = || (next() % 1000) as f32 / 1000.0;
    let words = 1000;
    let centroids = Array2::from_shape_fn((words, 128), |_| f());
    let cb = Codebook::from_float(centroids);
    let n = 2000;
    let d = Descriptors::Float {
        dim: 128,
        data: (0..n * 128).map(|_| f()).collect(),
    };
    let mut g = c.benchmark_group("quantize");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("flat_1000_words_sift", |b| {
        b.iter(|| cb.quantize(black_box(&d)))
    });
    let mut next = stream(2);
    let binary = Codebook::Binary {
        bytes: 32,
        centroids: (0..words * 32).map(|_| next() as u8).collect(),
    };
    let bd = Descriptors::Binary {
        bytes: 32,
        data: (0..n * 32).map(|_| next() as u8).collect(),
    };
    g.bench_function("flat_1000_words_orb", |b| {
        b.iter(|| binary.quantize(black_box(&bd)))
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let mut next = stream(3);
    let mut g = c.benchmark_group("codec");
    // A format-1/2 block (≤ 128 postings, varints) and a sealed format-3
    // block (4,096 postings, packed frames), gaps of 1–100 as at 100k
    // records over 10^5 words, tf mostly 1.
    for (layout, name, len) in [
        (Layout::Varint, "varint", postings::BLOCK_CAP),
        (Layout::Packed, "packed", 4_096),
    ] {
        let mut doc = 1_000u64;
        let block: Vec<(u64, u32)> = (0..len)
            .map(|_| {
                doc += 1 + next() % 100;
                (doc, if next().is_multiple_of(10) { 2 } else { 1 })
            })
            .collect();
        let first = block[0].0;
        let bytes = postings::encode(layout, first, &block);
        g.throughput(Throughput::Elements(block.len() as u64));
        g.bench_function(format!("posting_block_encode_{name}"), |b| {
            b.iter(|| postings::encode(layout, first, black_box(&block)))
        });
        g.bench_function(format!("posting_block_decode_{name}"), |b| {
            b.iter_batched_ref(
                Vec::new,
                |out| postings::decode_into(layout, first, black_box(&bytes), out),
                BatchSize::SmallInput,
            )
        });
        // What the inverted path does: frames into two arrays, summed.
        g.bench_function(format!("posting_block_runs_{name}"), |b| {
            b.iter(|| {
                let mut s = 0u64;
                postings::for_each_run(layout, first, black_box(&bytes), |d, t| {
                    s += d[d.len() - 1]
                        + match t {
                            postings::Tfs::Ones => 1,
                            postings::Tfs::Listed(t) => u64::from(t[0]),
                        };
                    true
                })
                .map(|_| s)
            })
        });
    }
    // A head word's sealed block: the word is in most records (gaps of 1
    // or 2, a longer one now and then) with tf 1–8, as the Zipf head of the
    // synthetic corpus; these blocks take most of a query's decoding.
    let mut doc = 1_000u64;
    let head: Vec<(u64, u32)> = (0..16_384)
        .map(|_| {
            let r = next() % 100;
            doc += if r < 70 {
                1
            } else if r < 95 {
                2
            } else {
                3 + next() % 40
            };
            let t = next() % 100;
            let tf = if t < 40 {
                1
            } else if t < 70 {
                2
            } else if t < 88 {
                3
            } else {
                4 + (next() % 5) as u32
            };
            (doc, tf)
        })
        .collect();
    let head_bytes = postings::encode(Layout::Packed, head[0].0, &head);
    g.throughput(Throughput::Elements(head.len() as u64));
    g.bench_function("posting_block_frames_head_word_packed", |b| {
        let mut bufs = postings::FrameBuffers::default();
        b.iter(|| {
            let mut s = 0u64;
            postings::for_each_frame(
                Layout::Packed,
                head[0].0,
                black_box(&head_bytes),
                &mut bufs,
                |f| {
                    s += f.last + f.tf_minus_1.map_or(0, |e| e[0]);
                    true
                },
            )
            .map(|_| s)
        })
    });
    let mut w = 0u32;
    let h = hist::Histogram {
        cos_norm: 1.0,
        l1_norm: 2.0,
        entries: (0..1000)
            .map(|_| {
                w += 1 + (next() % 90) as u32;
                (w, 1 + (next() % 4) as u32)
            })
            .collect(),
    };
    g.throughput(Throughput::Elements(h.entries.len() as u64));
    for (layout, name) in [(Layout::Varint, "varint"), (Layout::Packed, "packed")] {
        let hb = hist::encode(layout, &h);
        g.bench_function(format!("histogram_decode_1000_{name}"), |b| {
            b.iter(|| hist::decode(layout, black_box(&hb)))
        });
    }
    g.finish();
}

fn extraction(c: &mut Criterion) {
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos/astronaut.jpg");
    let bytes = std::fs::read(&photo).unwrap_or_default();
    let cfg = IndexConfig::default();
    let mut g = c.benchmark_group("extract_512px");
    g.sample_size(10);
    for feature in Feature::ALL {
        let params = ExtractParams {
            feature,
            max_side: cfg.max_side,
            max_features: cfg.max_features,
            min_features: cfg.min_features,
            max_pixels: cfg.max_pixels,
            max_file_bytes: mmindex::config::DEFAULT_MAX_FILE_BYTES,
        };
        let input = ImageInput::Bytes(bytes.clone());
        g.bench_function(feature.name(), |b| {
            b.iter(|| extract(black_box(&input), &params))
        });
    }
    g.finish();
}

criterion_group!(benches, quantize, codecs, extraction);
criterion_main!(benches);
