//! Tenants: each one's runs, events and logs live in a database of its own, with its own live
//! hub, executor and pipelines, so no query, subscription or step of one tenant can reach
//! another's data, and run ids are chosen freely in each. The `default` tenant (the laptop's,
//! and a single-team server's) uses the data directory's own database; tenant `T` uses
//! `<data-dir>/tenants/T/`, opened the first time one of its callers arrives. Pipelines: the
//! default tenant has the demos and `--pipelines DIR`; tenant `T` has `DIR/tenants/T/*.toml`.

use super::auth::{Auth, DEFAULT_TENANT};
use super::catalog::Catalog;
use super::commands::fail_interrupted_runs;
use super::executor::Executor;
use super::hub::Hub;
use super::runs::{RunError, Runs};
use super::store::{Store, StoreError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use thiserror::Error;
use tokio::sync::OnceCell;

#[derive(Debug, Error)]
pub enum TenantError {
    #[error("tenant `{0}` must be 1-63 characters of a-z, 0-9, `-`, `_`, starting with a letter or digit")]
    BadName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recovery(#[from] RunError),
    #[error("cannot create the directory of tenant `{tenant}`: {source}")]
    Io {
        tenant: String,
        source: std::io::Error,
    },
}

/// A tenant name: a path component and a JWT claim, so a plain slug.
pub fn check_name(name: &str) -> Result<(), TenantError> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TenantError::BadName(name.to_owned()))
    }
}

/// One tenant's world.
pub struct Tenant {
    pub name: String,
    pub runs: Arc<Runs>,
    pub executor: Arc<Executor>,
    pub catalog: Arc<Catalog>,
}

/// Where tenants live and what they share.
pub struct TenantsConfig {
    pub data_dir: PathBuf,
    pub pipelines: Option<PathBuf>,
    /// Base URL handed to steps (`SIGNALBOX_URL`).
    pub public_url: String,
    /// Marks every step process (see `executor::leftovers`).
    pub owner: String,
}

pub struct Tenants {
    config: TenantsConfig,
    auth: Arc<Auth>,
    default: Arc<Tenant>,
    /// Each tenant opens once, however many of its callers arrive together, and without
    /// holding up other tenants.
    others: Mutex<HashMap<String, Arc<OnceCell<Arc<Tenant>>>>>,
}

impl Tenants {
    /// The tenants of a server: the default one over `store` (the data directory's database)
    /// is ready at once; the others open when first asked for.
    pub async fn open(
        config: TenantsConfig,
        auth: Arc<Auth>,
        store: Arc<Store>,
    ) -> Result<Tenants, TenantError> {
        let (catalog, problems) = Catalog::load(config.pipelines.as_deref());
        for problem in &problems {
            tracing::error!(%problem, "pipeline not loaded");
        }
        let work = config.data_dir.join("work");
        let default = assemble(&config, &auth, DEFAULT_TENANT, store, catalog, work);
        recover(&default).await?;
        Ok(Tenants {
            config,
            auth,
            default: Arc::new(default),
            others: Mutex::new(HashMap::new()),
        })
    }

    pub fn default_tenant(&self) -> &Arc<Tenant> {
        &self.default
    }

    /// The tenant named `name`, opened (database, executor, pipelines) if this is its first use.
    pub async fn get(&self, name: &str) -> Result<Arc<Tenant>, TenantError> {
        if name == DEFAULT_TENANT {
            return Ok(Arc::clone(&self.default));
        }
        check_name(name)?;
        let cell = Arc::clone(
            self.others
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(name.to_owned())
                .or_default(),
        );
        cell.get_or_try_init(|| self.open_tenant(name))
            .await
            .cloned()
    }

    async fn open_tenant(&self, name: &str) -> Result<Arc<Tenant>, TenantError> {
        let dir = self.config.data_dir.join("tenants").join(name);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| TenantError::Io {
                tenant: name.to_owned(),
                source,
            })?;
        let store = Arc::new(Store::open(&dir.join("signalbox.db")).await?);
        store.renew_open_epochs().await?;
        let pipelines = self
            .config
            .pipelines
            .as_deref()
            .map(|root| root.join("tenants").join(name))
            .filter(|dir| dir.is_dir());
        let (catalog, problems) = Catalog::load_own(pipelines.as_deref());
        for problem in &problems {
            tracing::error!(tenant = name, %problem, "pipeline not loaded");
        }
        let tenant = assemble(
            &self.config,
            &self.auth,
            name,
            store,
            catalog,
            dir.join("work"),
        );
        recover(&tenant).await?;
        tracing::info!(tenant = name, "tenant opened");
        Ok(Arc::new(tenant))
    }

    /// Every tenant opened so far (for shutdown).
    pub fn opened(&self) -> Vec<Arc<Tenant>> {
        let mut all = vec![Arc::clone(&self.default)];
        let others = self.others.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(others.values().filter_map(|cell| cell.get().cloned()));
        all
    }
}

fn assemble(
    config: &TenantsConfig,
    auth: &Arc<Auth>,
    name: &str,
    store: Arc<Store>,
    catalog: Catalog,
    work: PathBuf,
) -> Tenant {
    let runs = Arc::new(Runs::new(store, Arc::new(Hub::default())));
    let executor = Arc::new(Executor::new(
        Arc::clone(&runs),
        work,
        config.public_url.clone(),
        config.owner.clone(),
        Arc::clone(auth),
        name.to_owned(),
    ));
    Tenant {
        name: name.to_owned(),
        runs,
        executor,
        catalog: Arc::new(catalog),
    }
}

/// Makes a tenant's stored history truthful after whatever ended the last server: runs its
/// executor was running are ended as interrupted.
async fn recover(tenant: &Tenant) -> Result<(), TenantError> {
    let interrupted = fail_interrupted_runs(&tenant.runs).await?;
    if interrupted > 0 {
        tracing::warn!(
            tenant = %tenant.name,
            count = interrupted,
            "runs interrupted by the last shutdown were marked failed"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_plain_slugs() {
        for ok in ["default", "acme", "team-7", "a_b", "0x"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "../etc", "a/b", "-x", "a b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
