//! One component per route.

mod audit;
mod deployments;
mod home;
mod login;
mod not_found;
mod pipeline;
mod run;
mod split;

pub use not_found::NotFound;
pub use split::{
    AuditRoute, DeploymentsRoute, HomeRoute, LoginRoute, PipelineRoute, RunRoute, SplitPreloads,
};
