//! Access control: a principal's effective role on each organisation.
//!
//! A grant on an organisation applies to it and to every organisation below it (through
//! `Organisation::parent`); the effective role is the highest that applies. A central role
//! applies to every organisation. A read-only API token caps everything at viewer.
//!
//! Anything a caller cannot read answers 404 (its existence is not disclosed); anything it can
//! read but not change answers 403.

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use camtrace_model::Organisation;
use camtrace_store::Store;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The organisation tree (every organisation and its parent) as of one history entry.
#[derive(Debug, Default)]
pub struct OrgTree {
    /// Hash of the newest history entry when the tree was read (empty: no history).
    pub head: String,
    pub organisations: Vec<Organisation>,
    parents: HashMap<String, Option<String>>,
}

impl OrgTree {
    pub fn new(head: String, organisations: Vec<Organisation>) -> OrgTree {
        let parents = organisations
            .iter()
            .map(|o| (o.id.clone(), o.parent.clone()))
            .collect();
        OrgTree {
            head,
            organisations,
            parents,
        }
    }

    /// Whether `org` is `ancestor` or below it.
    pub fn is_within(&self, org: &str, ancestor: &str) -> bool {
        let mut cur = Some(org);
        let mut steps = 0;
        while let Some(id) = cur {
            if id == ancestor {
                return true;
            }
            steps += 1;
            if steps > 64 {
                return false;
            }
            cur = self.parents.get(id).and_then(|p| p.as_deref());
        }
        false
    }
}

/// The organisation tree kept in memory between requests, so that authorising a request costs
/// no query for it. Every request reads the register's revision (the history head; access
/// events never move it) in the same round trip as its credential
/// ([`crate::auth::Resolved::head`]); the cached tree is used only when it was read at that
/// same head, and reloaded otherwise. Organisations are written only through the
/// store, which appends to the history in the same transaction (whichever process writes:
/// this server, another server on the same database, the CLI importing), so a new or moved
/// organisation is seen by the very next request, with no time-to-live to wait out.
#[derive(Default)]
pub struct OrgTreeCache {
    current: std::sync::RwLock<Option<Arc<OrgTree>>>,
}

impl OrgTreeCache {
    /// The tree as of `head`: the cached one if it was read at `head`, else a fresh read (which
    /// then replaces the cached one).
    pub async fn at(&self, store: &dyn Store, head: &str) -> ApiResult<Arc<OrgTree>> {
        if let Some(t) = self.current.read().ok().and_then(|g| g.clone()) {
            if t.head == head {
                return Ok(t);
            }
        }
        // Read after `head` was: the organisations are at least as new as the head says (a
        // later change only makes a later request reload again).
        let tree = Arc::new(OrgTree::new(
            head.to_string(),
            store.list_organisations().await?,
        ));
        if let Ok(mut g) = self.current.write() {
            *g = Some(tree.clone());
        }
        Ok(tree)
    }
}

#[derive(Debug, Clone)]
pub struct Access {
    /// Effective role per organisation id (only organisations with some role).
    roles: HashMap<String, Role>,
    /// Every organisation with its parent, for ancestry (shared with the cache).
    tree: Arc<OrgTree>,
    central: Option<Role>,
    cap: Role,
}

impl Access {
    pub fn new(principal: &Principal, orgs: &[Organisation]) -> Self {
        Self::over(
            principal,
            Arc::new(OrgTree::new(String::new(), orgs.to_vec())),
        )
    }

    /// The principal's access over `tree`.
    pub fn over(principal: &Principal, tree: Arc<OrgTree>) -> Self {
        let parents = &tree.parents;
        let cap = principal.cap();
        let central = principal.user.central_role.map(|r| r.min(cap));
        let mut roles = HashMap::new();
        for o in &tree.organisations {
            // Walk up the tree (bounded: a cycle in bad data must not hang us).
            let mut best: Option<Role> = central;
            let mut cur = Some(o.id.as_str());
            let mut steps = 0;
            while let Some(id) = cur {
                if steps > 64 {
                    break;
                }
                steps += 1;
                for g in &principal.user.grants {
                    if g.organisation == id {
                        let r = g.role.min(cap);
                        best = Some(best.map_or(r, |b| b.max(r)));
                    }
                }
                cur = parents.get(id).and_then(|p| p.as_deref());
            }
            if let Some(r) = best {
                roles.insert(o.id.clone(), r);
            }
        }
        Access {
            roles,
            tree,
            central,
            cap,
        }
    }

    /// The history head (hash of the newest entry) this access was computed at: the state of
    /// the register the request sees.
    pub fn head(&self) -> &str {
        &self.tree.head
    }

    /// Every organisation (readable or not) as of this request, for ancestry checks; filter
    /// with [`Access::can_read`] before showing any.
    pub fn organisations(&self) -> &[Organisation] {
        &self.tree.organisations
    }

    /// The principal's role on `org`, if any.
    pub fn role(&self, org: &str) -> Option<Role> {
        self.roles.get(org).copied()
    }

    /// Sees every organisation (central role).
    pub fn is_central(&self) -> bool {
        self.central.is_some()
    }

    pub fn central_role(&self) -> Option<Role> {
        self.central
    }

    pub fn cap(&self) -> Role {
        self.cap
    }

    pub fn can_read(&self, org: &str) -> bool {
        self.role(org).is_some()
    }

    /// Organisations the principal can read, sorted.
    pub fn readable(&self) -> BTreeSet<String> {
        self.roles.keys().cloned().collect()
    }

    /// Organisations where the principal holds at least `role`.
    pub fn with_role(&self, role: Role) -> BTreeSet<String> {
        self.roles
            .iter()
            .filter(|(_, r)| **r >= role)
            .map(|(o, _)| o.clone())
            .collect()
    }

    /// 404 when `org` is not readable, 403 when readable but the role is below `need`.
    pub fn require(&self, org: &str, need: Role, what: &str) -> ApiResult<()> {
        match self.role(org) {
            None => Err(ApiError::NotFound(format!("{what} not found"))),
            Some(r) if r >= need => Ok(()),
            Some(_) => Err(ApiError::forbidden(format!(
                "{} role on organisation `{org}` required",
                need.as_str()
            ))),
        }
    }

    /// Whether `org` is `ancestor` or below it.
    pub fn is_within(&self, org: &str, ancestor: &str) -> bool {
        self.tree.is_within(org, ancestor)
    }

    /// The parent of an existing organisation (`None` when it does not exist).
    pub fn parent_of(&self, org: &str) -> Option<Option<&str>> {
        self.tree.parents.get(org).map(|p| p.as_deref())
    }

    pub fn exists(&self, org: &str) -> bool {
        self.tree.parents.contains_key(org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Grant, TokenScope, User, Via};

    fn org(id: &str, parent: Option<&str>) -> Organisation {
        Organisation {
            id: id.into(),
            name: id.into(),
            parent: parent.map(Into::into),
            kind: None,
            country: None,
        }
    }

    fn principal(grants: &[(&str, Role)], central: Option<Role>, via: Via) -> Principal {
        Principal {
            user: User {
                id: "u".into(),
                username: "u".into(),
                central_role: central,
                disabled: false,
                created_at: String::new(),
                grants: grants
                    .iter()
                    .map(|(o, r)| Grant {
                        organisation: o.to_string(),
                        role: *r,
                    })
                    .collect(),
            },
            via,
        }
    }

    fn session() -> Via {
        Via::Session {
            csrf: String::new(),
            token_hash: String::new(),
        }
    }

    #[test]
    fn grants_inherit_down_the_tree_but_not_up_or_across() {
        let orgs = vec![
            org("gov", None),
            org("dept-a", Some("gov")),
            org("agency-a1", Some("dept-a")),
            org("dept-b", Some("gov")),
        ];
        let p = principal(
            &[("dept-a", Role::Editor), ("agency-a1", Role::Approver)],
            None,
            session(),
        );
        let a = Access::new(&p, &orgs);
        assert_eq!(a.role("dept-a"), Some(Role::Editor));
        assert_eq!(a.role("agency-a1"), Some(Role::Approver));
        assert_eq!(a.role("gov"), None);
        assert_eq!(a.role("dept-b"), None);
        assert!(a.require("dept-b", Role::Viewer, "x").is_err());
        assert!(matches!(
            a.require("dept-a", Role::Approver, "x"),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            a.require("dept-b", Role::Viewer, "x"),
            Err(ApiError::NotFound(_))
        ));
    }

    #[test]
    fn central_role_sees_everything_and_read_tokens_cap_roles() {
        let orgs = vec![org("gov", None), org("dept-b", Some("gov"))];
        let p = principal(&[], Some(Role::Admin), session());
        let a = Access::new(&p, &orgs);
        assert_eq!(a.role("dept-b"), Some(Role::Admin));
        let p = principal(
            &[],
            Some(Role::Admin),
            Via::Token {
                id: "t".into(),
                scope: TokenScope::Read,
            },
        );
        let a = Access::new(&p, &orgs);
        assert_eq!(a.role("dept-b"), Some(Role::Viewer));
    }
}
