//! Every Kubernetes API call the kube target makes, as one list ([`ACCESS`]): what the
//! identity that runs the pipeline must be granted on a cluster, and nothing more. Every call
//! is made in the environment's own namespace, its Argo CD Application included (Argo CD's
//! "Applications in any namespace"), so an environment's identity needs rights in that one
//! namespace and none in `argocd` or in another environment's.
//!
//! The list is checked from both sides: the mock API server of `crates/adapters/tests/kube_target.rs`
//! refuses any request no entry allows (so a new call cannot go unlisted), and
//! `tests/tests/azure_access.rs` checks that the committed grants (`infra/kube_access.tf`)
//! cover every entry (so a listed call cannot go ungranted).

/// One kind of request, in the terms Kubernetes authorizes it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiAccess {
    /// The Kubernetes verb (`get`, `list`, `watch`, `patch`, ...).
    pub verb: &'static str,
    /// The API group (`""` for the core group).
    pub group: &'static str,
    /// The resource, plural.
    pub resource: &'static str,
    /// The subresource (`proxy`), if any.
    pub subresource: Option<&'static str>,
    /// What the target uses it for.
    pub why: &'static str,
}

/// Every call of `KubeTarget` (`kube/mod.rs`), and only those.
pub const ACCESS: &[ApiAccess] = &[
    ApiAccess {
        verb: "get",
        group: "argoproj.io",
        resource: "applications",
        subresource: None,
        why: "read an environment's Application (status, pending, and before each watch)",
    },
    ApiAccess {
        verb: "watch",
        group: "argoproj.io",
        resource: "applications",
        subresource: None,
        why: "follow the Application until it is Synced to the pushed revision and Healthy",
    },
    ApiAccess {
        verb: "patch",
        group: "argoproj.io",
        resource: "applications",
        subresource: None,
        why: "ask Argo CD to refresh, or start an explicit sync inside a deny window",
    },
    ApiAccess {
        verb: "get",
        group: "apps",
        resource: "deployments",
        subresource: None,
        why: "the Deployment's rollout status and pod selector",
    },
    ApiAccess {
        verb: "list",
        group: "",
        resource: "pods",
        subresource: None,
        why: "the Deployment's live pods and the image digest each runs",
    },
    ApiAccess {
        verb: "get",
        group: "",
        resource: "pods",
        subresource: Some("proxy"),
        why: "smoke-test each pod's /health and /info, read its /metrics for analysis, and send a quiet window's synthetic GET /, through the API server",
    },
];

/// A request as the API server's authorizer sees it (its `RequestInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAttributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: String,
}

impl RequestAttributes {
    /// Reads an HTTP request to a resource path (`/api/v1/...` or `/apis/<group>/<version>/...`)
    /// as Kubernetes does: GET of a name is `get`, of a collection `list`, or `watch` with
    /// `watch=true`; PATCH is `patch`, PUT `update`, POST `create`, DELETE `delete`.
    /// `None` for a path that names no namespaced resource.
    pub fn of(method: &str, path: &str, query: &str) -> Option<Self> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => ("", rest),
            ["apis", group, _version, rest @ ..] => (*group, rest),
            _ => return None,
        };
        let ["namespaces", namespace, resource, rest @ ..] = rest else {
            return None;
        };
        let named = !rest.is_empty();
        let subresource = rest.get(1).map(|s| (*s).to_owned());
        let watch = query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1");
        let verb = match (method, named) {
            ("GET", _) if watch => "watch",
            ("GET", true) => "get",
            ("GET", false) => "list",
            ("PATCH", _) => "patch",
            ("PUT", _) => "update",
            ("POST", _) => "create",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => return None,
        };
        Some(Self {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: (*resource).to_owned(),
            subresource,
            namespace: (*namespace).to_owned(),
        })
    }
}

/// Whether an entry of [`ACCESS`] allows `request` in one of the `environments`' namespaces.
pub fn allowed(request: &RequestAttributes, environments: &[&str]) -> bool {
    environments.contains(&request.namespace.as_str())
        && ACCESS.iter().any(|a| {
            a.verb == request.verb
                && a.group == request.group
                && a.resource == request.resource
                && a.subresource == request.subresource.as_deref()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: &str,
        path: &str,
        query: &str,
        expected: Option<(&str, &str, &str, Option<&str>, &str)>,
    ) {
        let got = RequestAttributes::of(method, path, query);
        let expected = expected.map(|(verb, group, resource, sub, ns)| RequestAttributes {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            subresource: sub.map(str::to_owned),
            namespace: ns.to_owned(),
        });
        assert_eq!(got, expected, "{method} {path}?{query}");
    }

    #[test]
    fn requests_read_as_the_api_server_authorizes_them() {
        let app = "/apis/argoproj.io/v1alpha1/namespaces/paktech-dev/applications";
        check(
            "GET",
            &format!("{app}/paktech-app-dev"),
            "",
            Some(("get", "argoproj.io", "applications", None, "paktech-dev")),
        );
        check(
            "GET",
            app,
            "watch=true&fieldSelector=x",
            Some(("watch", "argoproj.io", "applications", None, "paktech-dev")),
        );
        check(
            "PATCH",
            &format!("{app}/paktech-app-dev"),
            "",
            Some(("patch", "argoproj.io", "applications", None, "paktech-dev")),
        );
        check(
            "GET",
            "/api/v1/namespaces/paktech-dev/pods",
            "labelSelector=a",
            Some(("list", "", "pods", None, "paktech-dev")),
        );
        check(
            "GET",
            "/api/v1/namespaces/paktech-dev/pods/p-1:8080/proxy/health",
            "",
            Some(("get", "", "pods", Some("proxy"), "paktech-dev")),
        );
        check(
            "GET",
            "/apis/apps/v1/namespaces/paktech-dev/deployments/paktech-app",
            "",
            Some(("get", "apps", "deployments", None, "paktech-dev")),
        );
        check(
            "DELETE",
            "/api/v1/namespaces/paktech-dev/pods/p-1",
            "",
            Some(("delete", "", "pods", None, "paktech-dev")),
        );
        check("GET", "/version", "", None);
    }

    #[test]
    fn only_listed_calls_in_their_namespaces_are_allowed() {
        let envs = ["paktech-dev", "paktech-prod"];
        let allows = |method, path: &str, query| {
            allowed(
                &RequestAttributes::of(method, path, query).expect("a resource path"),
                &envs,
            )
        };
        assert!(allows("GET", "/api/v1/namespaces/paktech-prod/pods", ""));
        assert!(allows(
            "GET",
            "/api/v1/namespaces/paktech-dev/pods/p:8080/proxy/info",
            ""
        ));
        assert!(allows(
            "PATCH",
            "/apis/argoproj.io/v1alpha1/namespaces/paktech-prod/applications/a",
            ""
        ));
        // Nothing in Argo CD's own namespace, where an Application may use any project.
        assert!(!allows(
            "PATCH",
            "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/a",
            ""
        ));
        // Not listed: a write to a Deployment, pods in Argo CD's namespace, a pod deletion.
        assert!(!allows(
            "PATCH",
            "/apis/apps/v1/namespaces/paktech-dev/deployments/paktech-app",
            ""
        ));
        assert!(!allows("GET", "/api/v1/namespaces/argocd/pods", ""));
        assert!(!allows(
            "DELETE",
            "/api/v1/namespaces/paktech-dev/pods/p",
            ""
        ));
        assert!(!allows("GET", "/api/v1/namespaces/kube-system/pods", ""));
    }
}
