//! Roles and what each may do. A role is one of four fixed sets of permissions, so a token or
//! session says in one word what its holder can do, and every endpoint asks for one [`Action`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a request does, as far as permissions go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// See pipelines, runs, events and logs (pages, API reads, live stream).
    View,
    /// Start, cancel and retry runs.
    Operate,
    /// Manage tokens and read the audit trail.
    Administer,
    /// Report progress: create ad-hoc runs and send events and log lines.
    Ingest,
}

impl Action {
    /// Used in refusals: "… may not {verb}".
    fn verb(self) -> &'static str {
        match self {
            Action::View => "view runs",
            Action::Operate => "start, cancel or retry runs",
            Action::Administer => "manage tokens or read the audit trail",
            Action::Ingest => "report progress",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees everything of its tenant.
    Viewer,
    /// A viewer who also starts, cancels and retries runs.
    Operator,
    /// An operator who also manages tokens and reads the audit trail, and may report.
    Admin,
    /// A program reporting progress: ingest only, nothing to see.
    Reporter,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Reporter];

    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Viewer => action == Action::View,
            Role::Operator => matches!(action, Action::View | Action::Operate),
            Role::Admin => true,
            Role::Reporter => action == Action::Ingest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Reporter => "reporter",
        }
    }

    /// The refusal for `action`, naming the role and what it lacks.
    pub fn refusal(self, action: Action) -> String {
        format!("role `{self}` may not {}", action.verb())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                format!("unknown role `{text}`: use viewer, operator, admin or reporter")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_exactly_its_permissions() {
        use Action::*;
        let table = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Operator, [true, true, false, false]),
            (Role::Admin, [true, true, true, true]),
            (Role::Reporter, [false, false, false, true]),
        ];
        for (role, expected) in table {
            let got = [View, Operate, Administer, Ingest].map(|a| role.allows(a));
            assert_eq!(got, expected, "{role}");
        }
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let error = "root".parse::<Role>().unwrap_err();
        assert!(error.contains("`root`"), "{error}");
    }
}
