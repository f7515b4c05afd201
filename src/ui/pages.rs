//! One component per route.

mod audit;
mod deployments;
mod home;
mod login;
mod not_found;
mod pipeline;
mod run;

pub use audit::AuditPage;
pub use deployments::DeploymentsPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use pipeline::PipelinePage;
pub use run::RunPage;
