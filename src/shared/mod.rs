//! What the searchers and the writer of one open index share: the store,
//! the configuration, the active generation's vocabulary, and the caches
//! searches fill (doc norms, the unsealed records inverted, posting lists).
//!
//! Below `search`, `ingest` and `index`, which all hold a [`Shared`].

pub(crate) mod norms;
pub(crate) mod posting_cache;
pub(crate) mod unsealed;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, RwLock};

use crate::config::IndexConfig;
use crate::error::Result;
use crate::features::ExtractParams;
use crate::store::codec::exported::{self, Settings};
use crate::store::{Generation, Store};
use crate::vocab::Codebook;

/// The active generation's vocabulary, shared by searchers and the writer.
pub(crate) struct Vocabulary {
    pub generation: Generation,
    pub codebook: Codebook,
    pub idf: Vec<f32>,
    pub params: ExtractParams,
    /// The id of this vocabulary exported, computed on first use.
    id: OnceLock<u64>,
}

impl Vocabulary {
    pub(crate) fn new(
        generation: Generation,
        codebook: Codebook,
        idf: Vec<f32>,
        params: ExtractParams,
    ) -> Vocabulary {
        Vocabulary {
            generation,
            codebook,
            idf,
            params,
            id: OnceLock::new(),
        }
    }

    /// The extraction settings an exported copy carries.
    pub(crate) fn settings(&self) -> Settings {
        Settings::of(&self.params)
    }

    /// The id an exported copy has ([`exported`]): records described with
    /// an exported vocabulary carry it.
    pub(crate) fn id(&self) -> u64 {
        *self
            .id
            .get_or_init(|| exported::encode(&self.settings(), &self.codebook, &self.idf).1)
    }
}

/// The state of one open index, behind every handle to it.
pub(crate) struct Shared {
    pub store: Store,
    /// Changes only through a rebuild, together with the active generation.
    config: RwLock<IndexConfig>,
    pub writer_busy: AtomicBool,
    active: RwLock<Option<Arc<Vocabulary>>>,
    /// Norms of the active generation's docs, shared by searchers.
    pub norms: norms::NormCache,
    /// The active generation's unsealed docs inverted, shared by searchers.
    pub unsealed: unsealed::UnsealedCache,
    /// Posting lists read by searches, shared by searchers.
    pub postings: posting_cache::PostingCache,
}

impl Shared {
    /// The state of a freshly opened store, with a posting cache of
    /// `posting_cache_bytes`.
    pub(crate) fn new(store: Store, config: IndexConfig, posting_cache_bytes: u64) -> Shared {
        Shared {
            store,
            config: RwLock::new(config),
            writer_busy: AtomicBool::new(false),
            active: RwLock::new(None),
            norms: Default::default(),
            unsealed: Default::default(),
            postings: posting_cache::PostingCache::new(posting_cache_bytes),
        }
    }

    pub(crate) fn config(&self) -> IndexConfig {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn extract_params(&self) -> ExtractParams {
        ExtractParams::from(&self.config())
    }

    /// The active vocabulary, loaded from the store on first use.
    pub(crate) fn active(&self) -> Result<Option<Arc<Vocabulary>>> {
        if let Some(a) = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return Ok(Some(a.clone()));
        }
        let Some(n) = self.store.active()? else {
            return Ok(None);
        };
        let g = self.store.generation(n)?;
        let (codebook, idf) = self.store.load_vocabulary(&g)?;
        let a = Arc::new(Vocabulary::new(g, codebook, idf, self.extract_params()));
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Some(a.clone());
        Ok(Some(a))
    }

    pub(crate) fn set_active(&self, a: Vocabulary) {
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(a));
    }

    /// Switches to a rebuilt generation and its configuration; returns the
    /// previous vocabulary so the caller can wait for searches still using it.
    pub(crate) fn switch(&self, a: Vocabulary, config: IndexConfig) -> Option<Arc<Vocabulary>> {
        let mut slot = self.active.write().unwrap_or_else(|p| p.into_inner());
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
        slot.replace(Arc::new(a))
    }
}
